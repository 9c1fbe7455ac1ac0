import Foundation
import Logging
import MallocCounter
import Rill

/// A 5-operator stateless chain run by a Rill task in process (no broker), against a hand-written
/// loop doing the same work on the same bytes.
///
/// Both read 8-byte big-endian numbers with a short string key, and both write the same bytes out:
/// filter (n % 5 != 0) → mapValues (n * 3) → filter (n is even) → mapValues (n + 1) → peek (sum),
/// then serialize the value to 8 bytes.
enum InProcessChain {
    static func topology(sink: String) throws -> Topology {
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
    final class CountingCollector: RecordCollector {
        var records = 0
        var bytes = 0
        func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
            records += 1
            bytes += (key?.count ?? 0) + (value?.count ?? 0)
        }
        func partitionCount(topic: String) throws -> Int32 { 1 }
    }

    struct Result {
        var seconds: Double
        var allocations: UInt64
        var output: Int
    }

    static func inputs(count: Int) -> [RawRecord] {
        let keys = (0..<64).map { Array("key-\($0)".utf8) }
        return (0..<count).map { n in
            RawRecord(
                topic: "in", partition: 0, offset: Int64(n), timestamp: Int64(n), key: keys[n % keys.count],
                value: withUnsafeBytes(of: Int64(n).bigEndian) { Array($0) }, headers: Headers())
        }
    }

    static func runRill(_ inputs: [RawRecord]) throws -> Result {
        let collector = CountingCollector()
        let task = try StreamTask(
            topology: try topology(sink: "out"), subtopology: 0, partition: 0,
            config: StreamsConfig(applicationID: "bench"), collector: collector, wallClock: { 0 },
            logger: Logger(label: "bench"))
        try task.initialize()
        let allocationsBefore = rill_malloc_count()
        let start = DispatchTime.now()
        for raw in inputs { try task.process(raw) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Result(seconds: seconds, allocations: rill_malloc_count() - allocationsBefore, output: collector.records)
    }

    /// The same work written by hand: deserialize, four steps, peek, serialize, hand to the collector.
    static func runHandWritten(_ inputs: [RawRecord]) throws -> Result {
        let collector = CountingCollector()
        let keySerde = Serde<String>.string
        let valueSerde = Serde<Int64>.int64
        let allocationsBefore = rill_malloc_count()
        let start = DispatchTime.now()
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
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Result(seconds: seconds, allocations: rill_malloc_count() - allocationsBefore, output: collector.records)
    }

    static func run(count: Int, report: inout Report) throws {
        let records = inputs(count: count)
        // Warm up both paths once, then measure the best of three runs each.
        _ = try runRill(Array(records.prefix(10_000)))
        _ = try runHandWritten(Array(records.prefix(10_000)))
        var rill = try runRill(records)
        var baseline = try runHandWritten(records)
        for _ in 0..<2 {
            let r = try runRill(records)
            if r.seconds < rill.seconds { rill = r }
            let b = try runHandWritten(records)
            if b.seconds < baseline.seconds { baseline = b }
        }
        precondition(rill.output == baseline.output, "both paths must write the same records")
        let rillRate = Double(count) / rill.seconds
        let baseRate = Double(count) / baseline.seconds
        report.add(
            scenario: "in-process 5-operator chain (\(count) records)", rate: rillRate,
            baseline: "hand-written Swift loop", baselineRate: baseRate, goal: 0.5,
            notes: String(
                format: "allocations/record: rill %.2f, hand-written %.2f, extra %.2f",
                Double(rill.allocations) / Double(count), Double(baseline.allocations) / Double(count),
                Double(Int64(rill.allocations) - Int64(baseline.allocations)) / Double(count)))
    }
}

/// A sum the chain's `peek` adds to, so the work can't be optimized away.
let checksum = Checksum()

final class Checksum: @unchecked Sendable {
    private(set) var value: Int64 = 0
    func add(_ n: Int64) { value = value &+ n }
}
