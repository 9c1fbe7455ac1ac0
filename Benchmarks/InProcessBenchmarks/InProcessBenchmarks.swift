import Benchmark
import BenchmarkWorkloads
import Rill

/// In-process scenarios under ordo-one/benchmark (`make bench-in-process`): throughput, wall clock
/// per 1,000 records with its percentiles, allocations and peak resident memory, for the 5-operator
/// chain in a Rill task and for the hand-written loop it is measured against.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .peakMemoryResident],
        scalingFactor: .kilo, maxDuration: .seconds(5), maxIterations: 1_000_000)
    // Each iteration processes 1,000 records, so per-iteration figures are per record in thousands.
    let inputs = ChainWorkload.inputs(count: 1_000)

    Benchmark("5-operator chain, Rill task") { benchmark in
        let collector = ChainWorkload.CountingCollector()
        let task = try ChainWorkload.task(collector: collector)
        var records = Array(inputs[benchmark.scaledIterations])
        ChainWorkload.ensureUnique(&records)
        benchmark.startMeasurement()
        try ChainWorkload.lend(&records) { try task.process($0) }
        benchmark.stopMeasurement()
        precondition(collector.records == 400, "the chain keeps 2 records in 5")
    }

    Benchmark("5-operator chain, hand-written loop") { benchmark in
        let collector = ChainWorkload.CountingCollector()
        let records = Array(inputs[benchmark.scaledIterations])
        benchmark.startMeasurement()
        try ChainWorkload.handWritten(records, into: collector)
        benchmark.stopMeasurement()
        precondition(collector.records == 400, "the loop keeps 2 records in 5")
    }
}
