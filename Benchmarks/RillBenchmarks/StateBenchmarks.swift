import CRdKafka
import CRocksDB
import Foundation
import Logging
import Rill
import RillKafka
import RillRocksDB
import RillTestDriver

/// State: Rill's RocksDB store API against the raw C API, a windowed count against the stateless
/// passthrough on the embedded broker, and a changelog restore against a raw consume-and-put loop.
enum StateBenchmarks {
    static func run(count: Int, report: inout Report) throws {
        try storeAPI(count: count, report: &report)
        try windowedCount(count: count, report: &report)
        try restore(count: count, report: &report)
    }

    // MARK: - Store API

    /// Puts then gets of `count` keys, through a typed store a topology built, and with the C API,
    /// in three interleaved rounds (medians reported).
    static func storeAPI(count: Int, report: inout Report) throws {
        var raw: [Double] = []
        var rill: [Double] = []
        for round in 1...3 {
            raw.append(try rawRocksDB(count: count))
            rill.append(try rillStore(count: count))
            print(String(format: "  round %d: raw %.0f, Rill %.0f operations/s", round, raw[round - 1], rill[round - 1]))
        }
        report.add(
            scenario: "RocksDB store put+get (\(count) keys)", rate: BrokerBenchmarks.median(rill), baseline: "raw RocksDB C API",
            baselineRate: BrokerBenchmarks.median(raw), goal: 0.8,
            notes: "operations/s, median of 3 interleaved runs; String keys, Int64 values, write-ahead log off in both")
    }

    static func rillStore(count: Int) throws -> Double {
        let topology = Topology()
        try topology.addSource(name: "in", topics: ["in"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "holder", parents: ["in"], stores: ["bench"]) { IdleProcessor() }
        try topology.addStateStore(
            Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("bench"), keySerde: .string, valueSerde: .int64)
                .withLoggingDisabled())
        let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "bench-store"))
        defer { driver.close() }
        let store: any KeyValueStore<String, Int64> = try driver.keyValueStore(named: "bench")
        let start = DispatchTime.now()
        for n in 0..<count { try store.put("key-\(n)", Int64(n)) }
        var found = 0
        for n in 0..<count where try store.get("key-\(n)") == Int64(n) { found += 1 }
        precondition(found == count, "read back \(found) of \(count)")
        return Double(2 * count) / seconds(since: start)
    }

    /// The same puts and gets with RocksDB's C API and the same options.
    static func rawRocksDB(count: Int) throws -> Double {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-raw-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_write_buffer_size(options, 16 << 20)
        rocksdb_options_set_max_write_buffer_number(options, 2)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        let table = rocksdb_block_based_options_create()!
        let cache = rocksdb_cache_create_lru(192 << 20)!
        rocksdb_block_based_options_set_block_cache(table, cache)
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1)
        rocksdb_options_set_block_based_table_factory(options, table)
        var error: UnsafeMutablePointer<CChar>?
        let db = rocksdb_open(options, path, &error)!
        let write = rocksdb_writeoptions_create()!
        rocksdb_writeoptions_disable_WAL(write, 1)
        let read = rocksdb_readoptions_create()!
        defer {
            rocksdb_close(db)
            rocksdb_writeoptions_destroy(write)
            rocksdb_readoptions_destroy(read)
            rocksdb_options_destroy(options)
            rocksdb_block_based_options_destroy(table)
            rocksdb_cache_destroy(cache)
        }
        let start = DispatchTime.now()
        for n in 0..<count {
            let key = Array("key-\(n)".utf8)
            var value = Int64(n).bigEndian
            key.withUnsafeBufferPointer { k in
                withUnsafeBytes(of: &value) { v in
                    rocksdb_put(db, write, k.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, k.count,
                                v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count, &error)
                }
            }
        }
        var found = 0
        for n in 0..<count {
            let key = Array("key-\(n)".utf8)
            var length = 0
            let value = key.withUnsafeBufferPointer { k in
                rocksdb_get(db, read, k.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, k.count,
                            &length, &error)
            }
            if let value {
                var decoded: Int64 = 0
                for i in 0..<length { decoded = decoded << 8 | Int64(UInt8(bitPattern: value[i])) }
                if decoded == Int64(n) { found += 1 }
                rocksdb_free(value)
            }
        }
        precondition(found == count, "raw read back \(found) of \(count)")
        return Double(2 * count) / seconds(since: start)
    }

    // MARK: - Windowed count

    /// A 1-minute tumbling count on RocksDB over the broker benchmark's input (10,000 keys), against
    /// the stateless passthrough, in the same process run.
    static func windowedCount(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        try broker.createTopic("bench-in", partitions: BrokerBenchmarks.partitions)
        try broker.createTopic("bench-out-pass-w", partitions: BrokerBenchmarks.partitions)
        try broker.createTopic("bench-out-windowed", partitions: BrokerBenchmarks.partitions)
        try BrokerBenchmarks.load(servers, count: count)
        let passthrough = try BrokerBenchmarks.rill(servers, count: count, output: "bench-out-pass-w", chain: false)
        let passthroughUse = ResourceMeter.last
        let rate = try windowedCountRate(servers, count: count, app: "bench-windowed", output: "bench-out-windowed", threads: 1)
        report.add(
            scenario: "windowed count, RocksDB (\(count) records, 10k keys)", rate: rate, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: 0.5, notes: "1-minute tumbling windows, default cache and commit interval",
            resources: ResourceMeter.last, baselineResources: passthroughUse)
        withExtendedLifetime(broker) {}
    }

    /// The windowed count's rate with `threads` stream threads, over "bench-in".
    static func windowedCountRate(_ servers: String, count: Int, app: String, output: String, threads: Int) throws -> Double {
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        var config = StreamsConfig(applicationID: app, bootstrapServers: servers)
        config.stateDir = stateDir
        config.numStreamThreads = threads
        config["consumer.session.timeout.ms"] = "6000"
        return try measure(try KafkaStreams(try windowedCount(output: output), config: config, logger: Logger(label: "bench")), count: count)
    }

    /// Counts `input` per key in 1-minute tumbling windows into the RocksDB store `store`, to `output`.
    static func windowedCount(input: String = "bench-in", store: String = "bench-counts", output: String) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream(input, Consumed(.bytes, .bytes))
            .groupByKey()
            .windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60)))
            .count(materialized: .as(store))
            .toStream()
            .to(output, Produced(.timeWindowed(.bytes, windowSize: 60_000), Serde<Int64>.int64.optional))
        return try builder.build()
    }

    /// The windowed count with two stream threads against one, in the same process run (the
    /// embedded broker shares the machine's cores with them).
    static func threadScaling(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        for topic in ["bench-in", "bench-out-1t", "bench-out-2t"] { try broker.createTopic(topic, partitions: BrokerBenchmarks.partitions) }
        try BrokerBenchmarks.load(servers, count: count)
        let one = try windowedCountRate(servers, count: count, app: "bench-1-thread", output: "bench-out-1t", threads: 1)
        let oneUse = ResourceMeter.last
        let two = try windowedCountRate(servers, count: count, app: "bench-2-threads", output: "bench-out-2t", threads: 2)
        report.add(
            scenario: "windowed count, 2 stream threads (\(count) records)", rate: two, baseline: "1 stream thread",
            baselineRate: one, goal: nil, notes: "2 cores, broker in the same process",
            resources: ResourceMeter.last, baselineResources: oneUse)
        withExtendedLifetime(broker) {}
    }

    /// Records per second from the first processed record until `streams` has processed `count`
    /// and closed (which commits: its output and changelog are on the broker).
    static func measure(_ streams: KafkaStreams, count: Int) throws -> Double {
        try streams.start()
        while streams.metrics.processed == 0 { Thread.sleep(forTimeInterval: 0.0005) }
        let start = DispatchTime.now()
        ResourceMeter.begin()
        while streams.metrics.processed < Int64(count) {
            precondition(streams.state != .error, "the topology failed: \(String(describing: streams.failure))")
            precondition(
                seconds(since: start) < 600,
                "processed \(streams.metrics.processed) of \(count) records in 600 s (did the broker's retention drop some?)")
            Thread.sleep(forTimeInterval: 0.001)
        }
        precondition(streams.close(timeout: .seconds(120)), "close timed out")
        let rate = Double(count) / seconds(since: start)
        ResourceMeter.end(records: count)
        return rate
    }

    // MARK: - Restore

    /// Restoring a store from a `count`-record changelog (32 partitions), against consuming the same
    /// changelog with librdkafka and writing it to one RocksDB in batches.
    static func restore(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        let partitions = BrokerBenchmarks.partitions
        let changelog = "bench-restore-restored-changelog"
        try broker.createTopic("restore-in", partitions: partitions)
        try broker.createTopic(changelog, partitions: partitions)
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "20"]))
        for n in 0..<count {
            var value = Int64(n).bigEndian
            try producer.send(
                topic: changelog, partition: Int32(n % Int(partitions)), key: Array("key-\(n)".utf8),
                value: withUnsafeBytes(of: &value) { Array($0) }, timestamp: Int64(n), headers: Headers())
        }
        try producer.flush(timeoutMs: 120_000)
        let raw = try rawRestore(servers, topic: changelog, partitions: partitions, count: count)

        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let builder = StreamsBuilder()
        builder.addStateStore(
            Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("restored"), keySerde: .bytes, valueSerde: .bytes))
        _ = builder.stream("restore-in", Consumed(.bytes, .bytes)).process(named: "holder", stores: ["restored"]) { IdleBytesProcessor() }
        var config = StreamsConfig(applicationID: "bench-restore", bootstrapServers: servers)
        config.stateDir = stateDir
        config["consumer.session.timeout.ms"] = "6000"
        let streams = try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench"))
        let listener = RestoreClock()
        streams.setGlobalStateRestoreListener(listener)
        try streams.start()
        let deadline = Date().addingTimeInterval(300)
        while listener.restored < Int64(count) && Date() < deadline {
            precondition(streams.state != .error, "the topology failed: \(String(describing: streams.failure))")
            Thread.sleep(forTimeInterval: 0.001)
        }
        let rate = listener.rate
        streams.close()
        precondition(listener.restored == Int64(count), "restored \(listener.restored) of \(count)")
        report.add(
            scenario: "restore from changelog (\(count) records)", rate: rate, baseline: "raw consume + batched put",
            baselineRate: raw, goal: 0.7, notes: "\(partitions) changelog partitions, into RocksDB")
        withExtendedLifetime(broker) {}
    }

    /// The baseline: assign every changelog partition from the start, consume in batches, and write
    /// each batch to one RocksDB (write-ahead log off) until `count` records are in.
    static func rawRestore(_ servers: String, topic: String, partitions: Int32, count: Int) throws -> Double {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-raw-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = rocksdb_options_create()!
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_write_buffer_size(options, 16 << 20)
        var error: UnsafeMutablePointer<CChar>?
        let db = rocksdb_open(options, path, &error)!
        let write = rocksdb_writeoptions_create()!
        rocksdb_writeoptions_disable_WAL(write, 1)
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        // Rill's own consumer defaults, so that the two read alike.
        let properties = ["bootstrap.servers": servers, "group.id": "bench-raw-restore", "enable.auto.commit": "false"]
        for (key, value) in properties.merging(KafkaStreams.consumerDefaults, uniquingKeysWith: { own, _ in own }) {
            _ = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
        }
        let consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count)!
        defer {
            rd_kafka_consumer_close(consumer)
            rd_kafka_destroy(consumer)
            rocksdb_close(db)
            rocksdb_writeoptions_destroy(write)
            rocksdb_options_destroy(options)
        }
        rd_kafka_poll_set_consumer(consumer)
        let list = rd_kafka_topic_partition_list_new(partitions)!
        for partition in 0..<partitions {
            rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let start = DispatchTime.now()
        rd_kafka_assign(consumer, list)
        rd_kafka_topic_partition_list_destroy(list)
        let queue = rd_kafka_queue_get_consumer(consumer)
        defer { rd_kafka_queue_destroy(queue) }
        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: 10_000)
        var restored = 0
        while restored < count {
            let n = rd_kafka_consume_batch_queue(queue, 200, &messages, messages.count)
            guard n > 0 else { continue }
            let batch = rocksdb_writebatch_create()!
            for i in 0..<n {
                guard let message = messages[i] else { continue }
                if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    rocksdb_writebatch_put(
                        batch, message.pointee.key.assumingMemoryBound(to: CChar.self), message.pointee.key_len,
                        message.pointee.payload.assumingMemoryBound(to: CChar.self), message.pointee.len)
                    restored += 1
                }
                rd_kafka_message_destroy(message)
            }
            rocksdb_write(db, write, batch, &error)
            rocksdb_writebatch_destroy(batch)
        }
        let flush = rocksdb_flushoptions_create()!
        rocksdb_flush(db, flush, &error)
        rocksdb_flushoptions_destroy(flush)
        return Double(count) / seconds(since: start)
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// Times restores: from the first partition's start to the last record restored.
final class RestoreClock: StateRestoreListener, @unchecked Sendable {
    private let lock = NSLock()
    private var started: DispatchTime?
    private var finished: DispatchTime?
    private var total: Int64 = 0

    var restored: Int64 { lock.withLock { total } }
    var rate: Double {
        lock.withLock {
            guard let started, let finished else { return 0 }
            return Double(total) / (Double(finished.uptimeNanoseconds - started.uptimeNanoseconds) / 1e9)
        }
    }

    func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64) {
        lock.withLock { if started == nil { started = .now() } }
    }

    func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64) {
        lock.withLock {
            total += restored
            finished = .now()
        }
    }
}

/// Holds a store and does nothing.
final class IdleProcessor: Processor {
    typealias KIn = String
    typealias VIn = String
    typealias KOut = String
    typealias VOut = String
    func initialize(context: ProcessorContext<String, String>) throws {}
    func process(_ record: Record<String, String>) throws {}
}

final class IdleBytesProcessor: Processor {
    typealias KIn = [UInt8]
    typealias VIn = [UInt8]
    typealias KOut = [UInt8]
    typealias VOut = [UInt8]
    func initialize(context: ProcessorContext<[UInt8], [UInt8]>) throws {}
    func process(_ record: Record<[UInt8], [UInt8]>) throws {}
}
