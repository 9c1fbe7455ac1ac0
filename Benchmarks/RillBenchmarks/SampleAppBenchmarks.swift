import AppointmentFunnel
import CallVolume
import Foundation
import Logging
import Rill
import RillKafka

/// Both sample apps end to end through the embedded broker, one stream thread each, with their own
/// settings (dead letters, 1-second commits): from the first record processed until the outputs are
/// complete, read back from the broker. The baseline is Rill's passthrough over the same input
/// topic, in the same process run.
enum SampleAppBenchmarks {
    static let clinics = 1_000
    static let start: Int64 = 1_764_000_000_000

    /// Half of `count` events each: the embedded broker keeps at most 5 MiB per partition, and the
    /// apps' JSON records are about 120 bytes.
    static func run(count: Int, report: inout Report) throws {
        try callVolume(count: count / 2, report: &report)
        try appointmentFunnel(count: count / 2, report: &report)
    }

    /// The apps log each dead letter as a warning; here only errors are shown.
    static var logger: Logger {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        return logger
    }

    // MARK: - Call volume

    /// `count` calls, one every 5 ms of event time over 1,000 clinics (1 in 1,000 malformed), then one
    /// inbound call per clinic 10 minutes later, which closes every earlier window.
    static func callVolume(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        let topics = [CallVolumeApp.inputTopic, CallVolumeApp.volumeTopic, CallVolumeApp.finalTopic, CallVolumeApp.deadLetterTopic]
        for topic in topics + ["calls-pass-out"] { try broker.createTopic(topic, partitions: BrokerBenchmarks.partitions) }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "20"]))
        var windows = Set<String>()
        func send(_ clinic: String, _ value: String) throws {
            try producer.send(
                topic: CallVolumeApp.inputTopic, partition: nil, key: Array(clinic.utf8), value: Array(value.utf8),
                timestamp: start, headers: Headers())
        }
        for n in 0..<count {
            let clinic = "clinic-\(n * 7 % clinics)"
            let ts = start + Int64(n) * 5
            if n % 1_000 == 999 {
                try send(clinic, #"{"callId":"c-\#(n)","clinicId":"\#(clinic)""#)
                continue
            }
            let inbound = n / clinics % 3 != 0 || n % 2 == 0
            let status = ["started", "answered", "ended", "started", "missed"][n / clinics % 5]
            try send(clinic, #"{"callId":"c-\#(n)","clinicId":"\#(clinic)","direction":"\#(inbound ? "inbound" : "outbound")","status":"\#(status)","ts":\#(ts)}"#)
            if inbound && status == "started" { windows.insert("\(clinic)@\(ts - ts % 60_000)") }
        }
        let closing = start + Int64(count) * 5 + 600_000
        for clinic in 0..<clinics {
            try send("clinic-\(clinic)", #"{"callId":"close","clinicId":"clinic-\#(clinic)","direction":"inbound","status":"started","ts":\#(closing)}"#)
        }
        try producer.flush(timeoutMs: 120_000)
        let events = count + clinics

        let passthrough = try self.passthrough(servers, topic: CallVolumeApp.inputTopic, events: events)
        let passthroughUse = ResourceMeter.last
        let config = appConfig("bench-call-volume", servers, configure: CallVolumeApp.configure)
        defer { try? FileManager.default.removeItem(atPath: config.stateDir) }
        let finals = try OutputWatch(servers, topic: CallVolumeApp.finalTopic)
        let rate = try measure(
            try KafkaStreams(try CallVolumeApp.topology(), config: config, logger: logger), events: events
        ) {
            try finals.poll { _ in }
            return finals.count >= windows.count
        }
        precondition(finals.count == windows.count, "\(finals.count) finals, expected \(windows.count)")
        report.add(
            scenario: "call-volume app end to end (\(events) events)", rate: rate, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: nil,
            notes: "until all \(windows.count) finals are on the broker; JSON in and out, RocksDB window store, 1 s commits",
            resources: ResourceMeter.last, baselineResources: passthroughUse)
        withExtendedLifetime(broker) {}
    }

    // MARK: - Appointment funnel

    /// 1,000 clinics, then `count` stage events of appointments that move through the funnel (one to
    /// five stages each, some cancelled or no-show), interleaved, and a malformed record after
    /// every 1,000th.
    static func appointmentFunnel(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        let app = AppointmentFunnelApp.self
        for topic in [app.clinicsTopic, app.appointmentsTopic, app.funnelTopic, app.deadLetterTopic, "appointments-pass-out"] {
            try broker.createTopic(topic, partitions: BrokerBenchmarks.partitions)
        }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "20"]))
        func send(_ topic: String, _ key: String, _ value: String, timestamp: Int64) throws {
            try producer.send(
                topic: topic, partition: nil, key: Array(key.utf8), value: Array(value.utf8), timestamp: timestamp, headers: Headers())
        }
        for clinic in 0..<clinics {
            try send(app.clinicsTopic, "clinic-\(clinic)", #"{"clinicId":"clinic-\#(clinic)","name":"Clinic \#(clinic)","region":"r\#(clinic % 4)"}"#,
                     timestamp: start - 86_400_000)
        }
        // Appointments open in groups of 1,000 and emit their stages round-robin, so events interleave.
        let stages = Stage.allCases.map(\.rawValue)
        var appointmentsPerClinic = [Int64](repeating: 0, count: clinics)
        var sent = 0
        var next = 0
        while sent < count {
            let group = (next..<next + 1_000).map { id in (id: id, reached: 1 + id * 7 % 5, ending: id % 10) }
            next += 1_000
            for step in 0..<6 {
                for appointment in group where sent < count {
                    let clinic = appointment.id % clinics
                    let stage: String
                    if step < appointment.reached {
                        stage = stages[step]
                    } else if step == appointment.reached && appointment.ending < 2 {
                        stage = appointment.ending == 0 ? "cancelled" : "no_show"
                    } else {
                        continue
                    }
                    if step == 0 { appointmentsPerClinic[clinic] += 1 }
                    let ts = start + Int64(sent) * 5
                    try send(
                        app.appointmentsTopic, "a-\(appointment.id)",
                        #"{"appointmentId":"a-\#(appointment.id)","patientId":"p-\#(appointment.id % 997)","clinicId":"clinic-\#(clinic)","stage":"\#(stage)","ts":\#(ts)}"#,
                        timestamp: ts)
                    sent += 1
                    if sent % 1_000 == 0 {
                        try send(app.appointmentsTopic, "a-bad", #"{"appointmentId":"a-bad","stage":"lost"}"#, timestamp: ts)
                    }
                }
            }
        }
        try producer.flush(timeoutMs: 120_000)

        let events = count + count / 1_000
        let passthrough = try self.passthrough(servers, topic: app.appointmentsTopic, events: events)
        let passthroughUse = ResourceMeter.last
        let config = appConfig("bench-funnel", servers, configure: app.configure)
        defer { try? FileManager.default.removeItem(atPath: config.stateDir) }
        let funnels = try OutputWatch(servers, topic: app.funnelTopic)
        var latest = [Int64](repeating: -1, count: clinics)
        let expected = appointmentsPerClinic
        let decoder = JSONDecoder()
        let rate = try measure(try KafkaStreams(try app.topology(), config: config, logger: logger), events: events) {
            try funnels.poll { record in
                guard let key = record.key, let clinic = Int(String(decoding: key.dropFirst("clinic-".count), as: UTF8.self)),
                      let value = record.value, let funnel = try? decoder.decode(Funnel.self, from: Data(value))
                else { return }
                latest[clinic] = funnel.appointments
            }
            return latest == expected
        }
        report.add(
            scenario: "appointment-funnel app end to end (\(events) events)", rate: rate, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: nil,
            notes: "until every clinic's funnel is complete on the broker; three repartitions, a join, two table aggregations, 1 s commits",
            resources: ResourceMeter.last, baselineResources: passthroughUse)
        withExtendedLifetime(broker) {}
    }

    // MARK: - Support

    static func passthrough(_ servers: String, topic: String, events: Int) throws -> Double {
        let builder = StreamsBuilder()
        builder.stream(topic, Consumed(.bytes, .bytes)).to("\(topic)-pass-out", Produced(.bytes, .bytes))
        var config = StreamsConfig(applicationID: "bench-\(topic)-pass", bootstrapServers: servers)
        config["consumer.session.timeout.ms"] = "6000"
        return try StateBenchmarks.measure(
            try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench")), count: events)
    }

    /// Events per second from the first record processed until `done` holds (checked every 10 ms).
    static func measure(_ streams: KafkaStreams, events: Int, until done: () throws -> Bool) throws -> Double {
        try streams.start()
        while streams.metrics.processed == 0 { Thread.sleep(forTimeInterval: 0.0005) }
        let start = DispatchTime.now()
        ResourceMeter.begin()
        while try !done() {
            precondition(streams.state != .error, "the app failed: \(String(describing: streams.failure))")
            precondition(StateBenchmarks.seconds(since: start) < 600, "the outputs were not complete after 600 s")
            Thread.sleep(forTimeInterval: 0.01)
        }
        let seconds = StateBenchmarks.seconds(since: start)
        ResourceMeter.end(records: events)
        precondition(streams.close(timeout: .seconds(120)), "close timed out")
        return Double(events) / seconds
    }

    /// An app's config as its worker has it, with its state in a fresh temporary directory.
    static func appConfig(_ id: String, _ servers: String, configure: (inout StreamsConfig) -> Void) -> StreamsConfig {
        var config = StreamsConfig(applicationID: id, bootstrapServers: servers)
        config.stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        config["consumer.session.timeout.ms"] = "6000"
        configure(&config)
        return config
    }

    /// Reads an output topic from its start as it fills.
    final class OutputWatch {
        let consumer: KafkaConsumer
        private(set) var count = 0

        init(_ servers: String, topic: String) throws {
            consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "bench-watch-\(topic)"]))
            var assignment: [TopicPartition: Int64] = [:]
            for partition in 0..<BrokerBenchmarks.partitions { assignment[TopicPartition(topic: topic, partition: partition)] = -2 }
            try consumer.assign(assignment)
        }

        func poll(_ each: (ConsumedRecord) -> Void) throws {
            let records = try consumer.poll(max: 10_000, timeoutMs: 0)
            count += records.count
            records.forEach(each)
        }

        deinit { consumer.close() }
    }
}
