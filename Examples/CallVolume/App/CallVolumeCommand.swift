import ArgumentParser
import CallVolume
import ExampleSupport
import Logging

/// `call-volume`: inbound calls started per clinic per minute, as a worker or as a live demo.
@main
struct CallVolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call-volume",
        abstract: "Count inbound calls started per clinic per minute (calls -> call-volume, call-volume-final).",
        discussion: """
            With --bootstrap-servers, runs as a worker until SIGTERM or Ctrl-C. Without it, runs a demo: an \
            embedded broker, generated call traffic and a live view (q or Ctrl-C to stop).
            """)

    @OptionGroup var options: WorkerOptions

    @Option(help: "Demo: calls generated per second.")
    var rate: Int = 400

    @Option(help: "Demo: event-time minutes per wall-clock minute, so windows close while you watch.")
    var speed: Int = 6

    @Option(help: "Demo: stop after this many seconds (default: until q or Ctrl-C).")
    var seconds: Int?

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1") }
        guard speed >= 1 else { throw ValidationError("--speed must be at least 1") }
    }

    func run() async throws {
        let topology = try CallVolumeApp.topology()
        let app = CallVolumeApp.self
        let live = LiveApp(
            view: { servers in try CallVolumeView(bootstrapServers: servers) }, page: CallVolumePage.html,
            stores: { $0.queryable(windowStore: CallVolumeApp.storeName, key: String.self, value: Int64.self) })
        if try await options.describeOrRunWorker(
            "call-volume", topology: topology, configure: app.configure, input: app.inputTopic,
            outputs: [app.volumeTopic, app.finalTopic, app.deadLetterTopic], live: live)
        {
            return
        }
        bootstrapLogging(level: .error)
        let demo = DemoRunner(
            topics: [CallVolumeApp.inputTopic, CallVolumeApp.volumeTopic, CallVolumeApp.finalTopic, CallVolumeApp.deadLetterTopic],
            seconds: seconds)
        try demo.run(
            topology: topology,
            config: { servers in
                try options.config(
                    defaultApplicationID: "call-volume-demo", bootstrapServers: servers, configure: CallVolumeApp.configure)
            },
            generator: { servers in try CallTraffic(bootstrapServers: servers, rate: rate, speed: speed) },
            live: live, web: options.httpPort.map(WebFront.init))
    }
}
