import Logging
import Rill

/// A 5-operator stateless chain, run by a Rill task in process (no broker) or by a hand-written loop
/// doing the same work on the same bytes: the in-process benchmarks of `RillBenchmarks` and
/// `InProcessBenchmarks` (ordo-one/benchmark) both run it.
///
/// Both read 8-byte big-endian numbers with a short string key, and both write the same bytes out:
/// filter (n % 5 != 0) → mapValues (n * 3) → filter (n is even) → mapValues (n + 1) → peek (sum),
/// then serialize the value to 8 bytes.
package enum ChainWorkload {
    package static func topology(sink: String) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .int64))
            .filter { _, n in n % 5 != 0 }
            .mapValues { n in n &* 3 }
            .filter { _, n in n & 1 == 0 }
            .mapValues { n in n &+ 1 }
            .peek { _, n in checksum.add(n) }
            .to(sink, Produced(.string, .int64))
        return try builder.build()
    }

    /// Counts what the sink writes, without keeping it.
    ///
    /// Its counters, and the checksum's, skip the runtime's exclusivity checks: the hand-written loop
    /// calls them inlined, where the compiler proves the accesses safe and drops the checks, while
    /// Rill reaches them through the `RecordCollector` protocol and a `peek` closure, where it can't.
    /// Checked, they cost Rill's side alone about 100 instructions per record of the harness's work.
    package final class CountingCollector: RecordCollector {
        @exclusivity(unchecked) package private(set) var records = 0
        @exclusivity(unchecked) package private(set) var bytes = 0
        package init() {}
        package func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
            records += 1
            bytes += (key?.count ?? 0) + (value?.count ?? 0)
        }
        package func partitionCount(topic: String) throws -> Int32 { 1 }
    }

    /// `count` input records: 64 keys in turn, values 0, 1, 2, ...
    package static func inputs(count: Int) -> [RawRecord] {
        let keys = (0..<64).map { Array("key-\($0)".utf8) }
        return (0..<count).map { n in
            RawRecord(
                topic: "in", partition: 0, offset: Int64(n), timestamp: Int64(n), key: keys[n % keys.count],
                value: withUnsafeBytes(of: Int64(n).bigEndian) { Array($0) }, headers: Headers())
        }
    }

    /// Hands each record of `records` to `body`, borrowed, in order.
    ///
    /// The task borrows each record, as the hand-written loop reads each in place. Passing
    /// `records[i]` (or a `for raw in records` element) to a function of another module copies it
    /// first, retaining and releasing its topic, key, value and headers: the harness's cost, not
    /// Rill's. So each record is moved out of the array and back, which copies nothing. Make the
    /// array unique (`ensureUnique`) before starting a clock.
    @inlinable
    package static func lend(_ records: inout [RawRecord], to body: (RawRecord) throws -> Void) rethrows {
        try records.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for index in buffer.indices {
                let raw = (base + index).move()
                defer { (base + index).initialize(to: raw) }
                try body(raw)
            }
        }
    }

    /// Makes `records` the only owner of its storage, so that ``lend(_:to:)`` copies nothing.
    package static func ensureUnique(_ records: inout [RawRecord]) {
        records.withUnsafeMutableBufferPointer { _ in }
    }

    /// A task running the chain into `collector`, initialized.
    package static func task(collector: CountingCollector) throws -> StreamTask {
        let task = try StreamTask(
            topology: try topology(sink: "out"), subtopology: 0, partition: 0,
            config: StreamsConfig(applicationID: "bench"), collector: collector, wallClock: { 0 },
            logger: Logger(label: "bench"))
        try task.initialize()
        return task
    }

    /// The same work written by hand: deserialize, four steps, peek, serialize, hand to the collector.
    package static func handWritten(_ inputs: [RawRecord], into collector: CountingCollector) throws {
        let keySerde = Serde<String>.string
        let valueSerde = Serde<Int64>.int64
        for raw in inputs {
            let key = try keySerde.deserialize(raw.key)
            var n = try valueSerde.deserialize(raw.value)
            guard n % 5 != 0 else { continue }
            n = n &* 3
            guard n & 1 == 0 else { continue }
            n = n &+ 1
            checksum.add(n)
            try collector.send(
                topic: "out", partition: nil, key: try keySerde.serialize(key), value: try valueSerde.serialize(n),
                timestamp: raw.timestamp, headers: raw.headers)
        }
    }

    /// A sum the chain's `peek` adds to, so the work can't be optimized away.
    package static let checksum = Checksum()

    package final class Checksum: @unchecked Sendable {
        @exclusivity(unchecked) package private(set) var value: Int64 = 0
        func add(_ n: Int64) { value = value &+ n }
    }
}
