import BenchmarkWorkloads
import Foundation
import Logging
import MallocCounter
import Rill
import RillRocksDB

/// The windowed count's processing alone: a Rill task over RocksDB with a 10 MiB record cache, fed
/// the broker scenario's records in process (10,000 keys, 1 ms apart, 1-minute windows), writing to
/// a collector that only counts. No broker shares the cores, so its figures are the task's own:
/// `--profile-windowed-in-process` prints them, and `Benchmarks/windowed-instructions.sh` counts its
/// instructions per record under callgrind.
enum WindowedInProcess {
    static func inputs(count: Int) -> [RawRecord] {
        let keys = (0..<10_000).map { Array("key-\($0)".utf8) }
        let value = [UInt8](repeating: 0x61, count: BrokerBenchmarks.valueSize)
        return (0..<count).map { n in
            RawRecord(
                topic: "bench-in", partition: 0, offset: Int64(n), timestamp: Int64(n + 1), key: keys[n % keys.count],
                value: value, headers: Headers())
        }
    }

    static func run(count: Int) throws {
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let collector = ChainWorkload.CountingCollector()
        let config = StreamsConfig(applicationID: "bench-windowed")
        let task = try StreamTask(
            topology: try StateBenchmarks.windowedCount(output: "bench-out"), subtopology: 0, partition: 0, config: config, collector: collector,
            wallClock: { 0 }, logger: Logger(label: "bench"), stateDirectory: stateDir, persistentStores: .rocksDB,
            cache: RecordCache(maxBytes: config.cacheMaxBytes))
        try task.initialize()
        var records = inputs(count: count)
        ChainWorkload.ensureUnique(&records)
        let allocationsBefore = rill_malloc_count()
        let start = DispatchTime.now()
        try processAll(task, &records)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let allocations = rill_malloc_count() - allocationsBefore
        task.close()
        print(
            String(
                format: "windowed count in process: %.0f rec/s, %.2f allocations/record, %d records written (changelog and output)",
                Double(count) / seconds, Double(allocations) / Double(count), collector.records))
    }

    static func processAll(_ task: StreamTask, _ records: inout [RawRecord]) throws {
        try ChainWorkload.lend(&records) { try task.process($0) }
        try task.flushCaches()
    }
}
