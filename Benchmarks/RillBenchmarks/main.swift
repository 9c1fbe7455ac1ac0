import Foundation
import Logging

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}

// `make bench`: every scenario runs with its baseline in this same process run; ratios are what count.
var report = Report()
let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("--quick")
let count = quick ? 100_000 : 1_000_000

if let index = arguments.firstIndex(of: "--rss-child") {
    try MemoryBenchmark.child(servers: arguments[index + 1], count: Int(arguments[index + 2])!)
    exit(0)
}
// One group of scenarios: `--NAME-only` runs it and prints the summary.
let groups: [(flag: String, run: (inout Report) throws -> Void)] = [
    ("--memory-only", { try MemoryBenchmark.run(count: quick ? 500_000 : 5_000_000, report: &$0) }),
    ("--join-only", { try JoinBenchmark.run(count: count, tableRows: count / 10, report: &$0) }),
    ("--apps-only", { try SampleAppBenchmarks.run(count: count, report: &$0) }),
    ("--store-only", { try StateBenchmarks.storeAPI(count: count, report: &$0) }),
    ("--latency-only", { try LatencyBenchmark.run(seconds: quick ? 5 : 10, report: &$0) }),
    ("--broker-only", { try BrokerBenchmarks.run(count: count, rounds: quick ? 1 : BrokerBenchmarks.rounds, report: &$0) }),
    ("--windowing-only", { try WindowingBenchmarks.run(count: count, report: &$0) }),
    ("--restore-only", { try StateBenchmarks.restore(count: count, report: &$0) }),
    ("--threads-only", { try StateBenchmarks.threadScaling(count: count, report: &$0) }),
    ("--profile-windowed", { try StateBenchmarks.windowedCount(count: count, report: &$0) }),
    ("--profile-windowed-in-process", { _ in try WindowedInProcess.run(count: count) }),
    ("--profile-rill", { _ in try BrokerBenchmarks.profileRill(count: count) }),
]
if let group = groups.first(where: { arguments.contains($0.flag) }) {
    try group.run(&report)
    print(report.summary())
    exit(0)
}
print("Rill benchmarks: \(count) records per scenario, \(ProcessInfo.processInfo.activeProcessorCount) cores")
try InProcessChain.run(count: count, report: &report)
if arguments.contains("--state-only") {
    try StateBenchmarks.run(count: count, report: &report)
    try MemoryBenchmark.run(count: quick ? 500_000 : 5_000_000, report: &report)
} else if !arguments.contains("--in-process-only") {
    // Latency first, while the process is small: later scenarios leave gigabytes of embedded-broker
    // topics behind, and the allocator's work on them showed in the latency's tail (p99 29–49 ms late
    // in a run against 18–19 ms alone).
    try LatencyBenchmark.run(seconds: quick ? 5 : 10, report: &report)
    try BrokerBenchmarks.run(count: count, rounds: quick ? 1 : BrokerBenchmarks.rounds, report: &report)
    try StateBenchmarks.run(count: count, report: &report)
    try StateBenchmarks.threadScaling(count: count, report: &report)
    try WindowingBenchmarks.run(count: count, report: &report)
    try JoinBenchmark.run(count: count, tableRows: count / 10, report: &report)
    try SampleAppBenchmarks.run(count: count, report: &report)
    try MemoryBenchmark.run(count: quick ? 500_000 : 5_000_000, report: &report)
}
print(report.summary())
