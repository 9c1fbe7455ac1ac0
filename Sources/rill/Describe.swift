import AppointmentFunnel
import ArgumentParser
import CallVolume
import Rill

/// `rill describe`: prints a sample app's topology in Kafka Streams' text format, or as a Mermaid
/// or Graphviz DOT picture.
struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a sample app's topology (sources, processors, sinks, stores and sub-topologies).")

    enum App: String, ExpressibleByArgument, CaseIterable {
        case callVolume = "call-volume"
        case appointmentFunnel = "appointment-funnel"
    }

    @Argument(help: "The sample app: \(App.allCases.map(\.rawValue).joined(separator: " or ")).")
    var app: App = .callVolume

    @Option(help: "text (Kafka Streams' format), mermaid (a flowchart) or dot (Graphviz).")
    var format: TopologyDescription.Format = .text

    func run() throws {
        let topology = switch app {
        case .callVolume: try CallVolumeApp.topology()
        case .appointmentFunnel: try AppointmentFunnelApp.topology()
        }
        print(topology.describe().rendered(as: format), terminator: "")
    }
}

extension TopologyDescription.Format: ExpressibleByArgument {}
