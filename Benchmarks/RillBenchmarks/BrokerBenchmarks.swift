import CRdKafka
import Foundation
import Logging
import Rill
import RillKafka

/// Consume→produce throughput on the embedded broker: a raw librdkafka loop, then Rill running a
/// passthrough and a filter+mapValues topology over the same input, all in this process run.
enum BrokerBenchmarks {
    static let partitions: Int32 = 32
    static let valueSize = 100

    /// Rounds of a full run. One round's ratio ranges from about 0.65 to 1.5 on the 2-core machine,
    /// where the embedded broker shares the cores: with 5 rounds the medians still moved the ratio
    /// between 0.7 and 1.2 from one run to the next.
    static let rounds = 9

    /// Runs the three scenarios in interleaved rounds (raw, passthrough, chain, raw, ...) so that
    /// drift on a shared machine hits all of them alike; reports each one's median.
    static func run(count: Int, rounds: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        try broker.createTopic("bench-in", partitions: partitions)
        try load(servers, count: count)

        var raw: [Double] = []
        var pass: [Double] = []
        var chain: [Double] = []
        var rawUse, passUse, chainUse: ResourceUse?
        for round in 1...rounds {
            for output in ["raw", "pass", "chain"] { try broker.createTopic("bench-out-\(output)-\(round)", partitions: partitions) }
            raw.append(try rawLoop(servers, count: count, output: "bench-out-raw-\(round)", group: "bench-raw-\(round)"))
            rawUse = ResourceMeter.last
            pass.append(try rill(servers, count: count, output: "bench-out-pass-\(round)", chain: false))
            passUse = ResourceMeter.last
            chain.append(try rill(servers, count: count, output: "bench-out-chain-\(round)", chain: true))
            chainUse = ResourceMeter.last
            print(String(format: "  round %d: raw %.0f, passthrough %.0f, filter+mapValues %.0f rec/s", round, raw[round - 1], pass[round - 1], chain[round - 1]))
        }
        let runs = "median of \(rounds) interleaved runs"
        report.add(
            scenario: "broker passthrough (\(count) x \(valueSize) B)", rate: median(pass), baseline: "raw librdkafka loop",
            baselineRate: median(raw), goal: 0.85, notes: runs, resources: passUse, baselineResources: rawUse)
        report.add(
            scenario: "broker filter+mapValues (\(count) x \(valueSize) B)", rate: median(chain),
            baseline: "raw librdkafka loop", baselineRate: median(raw), goal: nil, notes: runs, resources: chainUse,
            baselineResources: rawUse)
        withExtendedLifetime(broker) {}
    }

    /// The raw loop, then Rill's passthrough, for profiling (`--profile-rill`).
    static func profileRill(count: Int) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        try broker.createTopic("bench-in", partitions: partitions)
        try broker.createTopic("bench-out-profile", partitions: partitions)
        try load(broker.bootstrapServers, count: count)
        try broker.createTopic("bench-out-profile-raw", partitions: partitions)
        print(String(format: "raw loop %.0f rec/s", try rawLoop(broker.bootstrapServers, count: count, output: "bench-out-profile-raw", group: "bench-profile-raw")))
        print(String(format: "passthrough %.0f rec/s", try rill(broker.bootstrapServers, count: count, output: "bench-out-profile", chain: false)))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Produces `count` records with 100-byte values to `topic`: 10,000 keys in turn, record n at
    /// timestamp n + 1 ms (librdkafka stamps a timestamp of 0 with the wall clock), so each key every
    /// 10 s of event time, spread by key over the partitions.
    static func load(_ servers: String, count: Int, topic: String = "bench-in") throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "20"]))
        let value = [UInt8](repeating: 0x61, count: valueSize)
        for n in 0..<count {
            try producer.send(
                topic: topic, partition: nil, key: Array("key-\(n % 10_000)".utf8), value: value,
                timestamp: Int64(n + 1), headers: Headers())
        }
        try producer.flush(timeoutMs: 120_000)
    }

    /// The baseline: librdkafka's C API only, batch consume and produce with copy, flush at the end;
    /// the clients get the properties Rill sets by default, so both read and write alike.
    static func rawLoop(_ servers: String, count: Int, output: String, group: String) throws -> Double {
        func conf(_ properties: [String: String]) -> OpaquePointer {
            let conf = rd_kafka_conf_new()!
            var errstr = [CChar](repeating: 0, count: 512)
            for (key, value) in properties { _ = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) }
            return conf
        }
        var errstr = [CChar](repeating: 0, count: 512)
        let consumer = rd_kafka_new(
            RD_KAFKA_CONSUMER,
            conf(
                KafkaStreams.consumerDefaults.merging([
                    "bootstrap.servers": servers, "group.id": group, "auto.offset.reset": "earliest",
                    "enable.auto.commit": "false",
                ]) { _, own in own }), &errstr, errstr.count)!
        let producer = rd_kafka_new(
            RD_KAFKA_PRODUCER, conf(KafkaStreams.producerDefaults.merging(["bootstrap.servers": servers]) { _, own in own }),
            &errstr, errstr.count)!
        defer {
            rd_kafka_consumer_close(consumer)
            rd_kafka_destroy(consumer)
            rd_kafka_destroy(producer)
        }
        rd_kafka_poll_set_consumer(consumer)
        let list = rd_kafka_topic_partition_list_new(1)
        rd_kafka_topic_partition_list_add(list, "bench-in", -1)
        rd_kafka_subscribe(consumer, list)
        rd_kafka_topic_partition_list_destroy(list)
        let outTopic = rd_kafka_topic_new(producer, output, nil)
        defer { rd_kafka_topic_destroy(outTopic) }
        let queue = rd_kafka_queue_get_consumer(consumer)
        defer { rd_kafka_queue_destroy(queue) }

        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: 1000)
        var consumed = 0
        var start: DispatchTime?
        while consumed < count {
            let n = rd_kafka_consume_batch_queue(queue, 1000, &messages, messages.count)
            if n <= 0 { continue }
            if start == nil {
                start = .now()
                ResourceMeter.begin()
            }
            for i in 0..<n {
                guard let message = messages[i] else { continue }
                defer { rd_kafka_message_destroy(message) }
                if message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    precondition(
                        message.pointee.err != RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET
                            && message.pointee.err != RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
                        "offset reset: the input outgrew the mock broker's retention")
                    continue
                }
                consumed += 1
                while rd_kafka_produce(
                    outTopic, -1, RD_KAFKA_MSG_F_COPY, message.pointee.payload, message.pointee.len,
                    message.pointee.key, message.pointee.key_len, nil) != 0
                {
                    rd_kafka_poll(producer, 10)
                }
            }
            rd_kafka_poll(producer, 0)
        }
        rd_kafka_flush(producer, 120_000)
        ResourceMeter.end(records: count)
        guard let start else { return 0 }
        return Double(count) / (Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }

    /// Rill on the same input: from its first processed record until every output record is on the broker.
    static func rill(_ servers: String, count: Int, output: String, chain: Bool) throws -> Double {
        let builder = StreamsBuilder()
        let input = builder.stream("bench-in", Consumed(.bytes, .bytes))
        let produced = Produced<[UInt8], [UInt8]>(.bytes, .bytes)
        if chain {
            input.filter { _, value in value.count == valueSize }
                .mapValues { value in value }
                .to(output, produced)
        } else {
            input.to(output, produced)
        }
        // Default commit interval (30 s), as an application would run.
        var config = StreamsConfig(applicationID: "bench-\(output)", bootstrapServers: servers)
        config["consumer.session.timeout.ms"] = "6000"
        let streams = try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench"))
        let watcher = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "bench-watch-\(output)"]))
        defer { watcher.close() }
        try streams.start()
        // Watch the application's own counter (no broker requests while it runs), then the output's
        // end offsets: the clock stops when every output record is on the broker, as the raw loop's
        // stops after its flush (closing, which also leaves the group, is not timed).
        while streams.metrics.processed == 0 { Thread.sleep(forTimeInterval: 0.0005) }
        let start = DispatchTime.now()
        ResourceMeter.begin()
        while streams.metrics.processed < Int64(count) {
            precondition(streams.state != .error, "the topology failed: \(String(describing: streams.failure))")
            Thread.sleep(forTimeInterval: 0.001)
        }
        while try records(on: output, watcher: watcher) < Int64(count) { Thread.sleep(forTimeInterval: 0.002) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        ResourceMeter.end(records: count)
        precondition(streams.close(timeout: .seconds(60)), "close timed out")
        precondition(streams.metrics.processed == Int64(count), "processed \(streams.metrics.processed), expected \(count)")
        let delivered = try records(on: output, servers: servers)
        precondition(delivered == Int64(count), "output has \(delivered) records, expected \(count)")
        return Double(count) / seconds
    }

    /// How many records `topic` holds (the sum of its partitions' high watermarks).
    static func records(on topic: String, servers: String) throws -> Int64 {
        let watcher = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "bench-watch-\(topic)"]))
        defer { watcher.close() }
        return try records(on: topic, watcher: watcher)
    }

    static func records(on topic: String, watcher: KafkaConsumer) throws -> Int64 {
        var total: Int64 = 0
        for partition in 0..<partitions {
            total += try watcher.watermarks(TopicPartition(topic: topic, partition: partition), timeoutMs: 5_000).high
        }
        return total
    }
}
