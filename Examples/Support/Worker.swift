import ArgumentParser
import Foundation
import Logging
import Rill
import RillKafka
import ServiceLifecycle
import Synchronization
import CoreMetrics

/// Runs a sample app as a worker: until SIGTERM or SIGINT, then commits, closes and exits 0.
public enum Worker {
    /// Exit codes: 0 after a clean shutdown, 2 when an input topic is missing, 1 for other failures.
    ///
    /// The application runs in a swift-service-lifecycle `ServiceGroup`, which turns SIGTERM and
    /// SIGINT into a graceful shutdown.
    ///
    /// With `web`, the worker also serves its HTTP endpoint and `live`'s page, until it stops.
    public static func run(
        _ topology: Topology, config: StreamsConfig, input: String, outputs: [String], logger: Logger,
        web: WebFront? = nil, live: LiveApp? = nil
    ) async -> Int32 {
        do {
            try KafkaStreams.createMissingTopics(outputs, partitionsOf: input, config: config, logger: logger)
            let streams = try KafkaStreams(
                topology, config: config, logger: logger, metricsFactory: web?.metricsFactory ?? MetricsSystem.factory)
            var services: [any Service] = [streams]
            let stopped = Atomic(false)
            defer { stopped.store(true, ordering: .relaxed) }
            do {
                try streams.start()
                if let web, let live {
                    let feed = LiveFeed(try live.view(config.bootstrapServers))
                    feed.follow { stopped.load(ordering: .relaxed) }
                    services.append(web.server(streams: streams, app: live, feed: feed, logger: logger))
                    logger.info("Serving http://\(config.applicationServer?.description ?? "localhost:\(web.port)")/")
                }
            } catch {
                streams.close()
                throw error
            }
            logger.info("\(config.applicationID) running against \(config.bootstrapServers); SIGTERM or Ctrl-C stops it")
            let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            do {
                try await group.run()
            } catch {
                streams.close()
                printError("\(config.applicationID) stopped: \(streams.failure.map { "\($0)" } ?? "\(error)")")
                return 1
            }
            logger.info("\(config.applicationID) stopped cleanly")
            return 0
        } catch RuntimeError.missingSourceTopics(let topics, let servers) {
            printError(RuntimeError.missingSourceTopics(topics, servers: servers).description)
            return 2
        } catch {
            printError("\(error)")
            return 1
        }
    }
}

extension WorkerOptions {
    /// Does what the flags ask before any demo: prints the topology (`--describe`), or runs the app
    /// as a worker (`--bootstrap-servers`), exiting with the worker's code when it is not 0.
    /// `false` when neither applies: the app runs its demo.
    public func describeOrRunWorker(
        _ name: String, topology: Topology, configure: (inout StreamsConfig) -> Void, input: String, outputs: [String],
        live: LiveApp
    ) async throws -> Bool {
        if describe {
            print(topology.describe().rendered(as: describeFormat), terminator: "")
            return true
        }
        guard let servers = bootstrapServers else { return false }
        bootstrapLogging(level: .info)
        let config = try config(defaultApplicationID: name, bootstrapServers: servers, configure: configure)
        let code = await Worker.run(
            topology, config: config, input: input, outputs: outputs, logger: Logger(label: name),
            web: httpPort.map(WebFront.init), live: live)
        if code != 0 { throw ExitCode(code) }
        return true
    }
}

/// Writes `message` to standard error as `error: message`.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// Logs to standard error at `level`, the label in front.
public func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
