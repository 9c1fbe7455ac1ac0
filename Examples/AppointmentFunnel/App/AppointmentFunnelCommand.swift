import AppointmentFunnel
import ArgumentParser
import ExampleSupport
import Logging

/// `appointment-funnel`: per clinic, how many appointments reached each stage, as a worker or as a live demo.
@main
struct AppointmentFunnelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appointment-funnel",
        abstract: "Count appointments per clinic and stage (clinics, appointments -> appointment-funnel).",
        discussion: """
            With --bootstrap-servers, runs as a worker until SIGTERM or Ctrl-C. Without it, runs a demo: an \
            embedded broker, generated clinics and appointments and a live view (q or Ctrl-C to stop).
            """)

    @OptionGroup var options: WorkerOptions

    @Option(help: "Demo: new appointments per second.")
    var rate: Int = 40

    @Option(help: "Demo: stop after this many seconds (default: until q or Ctrl-C).")
    var seconds: Int?

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1") }
    }

    func run() async throws {
        let topology = try AppointmentFunnelApp.topology()
        let app = AppointmentFunnelApp.self
        let live = LiveApp(
            view: { servers in try FunnelView(bootstrapServers: servers) }, page: FunnelPage.html,
            stores: { server in
                server.queryable(keyValueStore: "funnels", key: String.self, value: Funnel.self)
                server.queryable(keyValueStore: "appointment-states", key: String.self, value: AppointmentState.self)
                server.queryable(keyValueStore: "clinics-store", key: String.self, value: Clinic.self)
            })
        if try await options.describeOrRunWorker(
            "appointment-funnel", topology: topology, configure: app.configure, input: app.appointmentsTopic,
            outputs: [app.funnelTopic, app.deadLetterTopic], live: live)
        {
            return
        }
        bootstrapLogging(level: .error)
        let demo = DemoRunner(
            topics: [
                AppointmentFunnelApp.clinicsTopic, AppointmentFunnelApp.appointmentsTopic, AppointmentFunnelApp.funnelTopic,
                AppointmentFunnelApp.deadLetterTopic,
            ],
            seconds: seconds)
        try demo.run(
            topology: topology,
            config: { servers in
                try options.config(
                    defaultApplicationID: "appointment-funnel-demo", bootstrapServers: servers, configure: AppointmentFunnelApp.configure)
            },
            generator: { servers in try AppointmentTraffic(bootstrapServers: servers, rate: rate) },
            live: live, web: options.httpPort.map(WebFront.init))
    }
}
