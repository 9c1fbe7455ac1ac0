// A worker process for the runtime's crash and restore tests: counts "clicks" per key in 1-minute
// windows on RocksDB and writes the counts to "window-counts", until SIGTERM (a clean close) or
// SIGKILL. Prints each state it enters ("state=running") on stdout. Usage: WindowedCountWorker <bootstrap servers> <state dir> <application id> [<stream threads>]
import Dispatch
import Foundation
import Logging
import Rill
import RillKafka

let arguments = CommandLine.arguments
guard (4...6).contains(arguments.count) else {
    FileHandle.standardError.write(
        Data("usage: WindowedCountWorker <bootstrap servers> <state dir> <application id> [<stream threads> [exactly-once]]\n".utf8))
    exit(2)
}
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}

let builder = StreamsBuilder()
builder.stream("clicks", Consumed(.string, .string))
    .groupByKey()
    .windowedBy(try TimeWindows.ofSizeAndGrace(.seconds(60), grace: .seconds(3_600)))
    .count(materialized: .as("click-counts"))
    .toStream()
    .to("window-counts", Produced(.timeWindowed(.string, windowSize: 60_000), Serde<Int64>.int64.optional))

var config = StreamsConfig(applicationID: arguments[3], bootstrapServers: arguments[1])
config.stateDir = arguments[2]
config.commitIntervalMs = 200
config.numStreamThreads = arguments.count >= 5 ? Int(arguments[4]) ?? 1 : 1
if arguments.count == 6, arguments[5] == "exactly-once" {
    config.processingGuarantee = .exactlyOnceV2
    config.cacheMaxBytes = 0  // one changelog record per click, so checkpoints come every 10,000 clicks
}
// A killed worker's successor should not wait long for the group to notice.
config["consumer.session.timeout.ms"] = "6000"
config["consumer.heartbeat.interval.ms"] = "500"
let streams = try KafkaStreams(try builder.build(), config: config)
/// Blocks until SIGTERM.
nonisolated func waitForSIGTERM() {
    signal(SIGTERM, SIG_IGN)
    let stopped = DispatchSemaphore(value: 0)
    let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
    source.setEventHandler { stopped.signal() }
    source.resume()
    stopped.wait()
    withExtendedLifetime(source) {}
}

/// Tells the tests how many changelog records each restore replayed.
final class RestorePrinter: StateRestoreListener, @unchecked Sendable {
    func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64) {}
    func onBatchRestored(_ partition: TopicPartition, store: String, batchEndOffset: Int64, restored: Int64) {}
    func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64) {
        FileHandle.standardOutput.write(Data("restored=\(restored)\n".utf8))
    }
}
streams.setGlobalStateRestoreListener(RestorePrinter())
// Tells the tests when the instance has its tasks and processes.
streams.setStateListener { new, _ in
    FileHandle.standardOutput.write(Data("state=\(new.rawValue)\n".utf8))
}
do {
    try streams.start()
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
waitForSIGTERM()
streams.close()
exit(streams.state == .error ? 1 : 0)
