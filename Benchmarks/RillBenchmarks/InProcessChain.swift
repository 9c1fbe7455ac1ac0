import BenchmarkWorkloads
import Foundation
import MallocCounter
import Rill

/// The 5-operator chain (``ChainWorkload``) run by a Rill task in process, against the hand-written
/// loop, with the allocations each makes (counted by this executable's allocator shim).
enum InProcessChain {
    struct Result {
        var seconds: Double
        var allocations: UInt64
        var output: Int
    }

    static func runRill(_ inputs: [RawRecord]) throws -> Result {
        let collector = ChainWorkload.CountingCollector()
        let task = try ChainWorkload.task(collector: collector)
        var records = inputs
        ChainWorkload.ensureUnique(&records)
        let allocationsBefore = rill_malloc_count()
        let start = DispatchTime.now()
        try ChainWorkload.lend(&records) { try task.process($0) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Result(seconds: seconds, allocations: rill_malloc_count() - allocationsBefore, output: collector.records)
    }

    @inline(never)  // a frame of its own, for callgrind's --toggle-collect (Benchmarks/chain-instructions.sh)
    static func runHandWritten(_ inputs: [RawRecord]) throws -> Result {
        let collector = ChainWorkload.CountingCollector()
        let allocationsBefore = rill_malloc_count()
        let start = DispatchTime.now()
        try ChainWorkload.handWritten(inputs, into: collector)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return Result(seconds: seconds, allocations: rill_malloc_count() - allocationsBefore, output: collector.records)
    }

    static func run(count: Int, report: inout Report) throws {
        let records = ChainWorkload.inputs(count: count)
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
