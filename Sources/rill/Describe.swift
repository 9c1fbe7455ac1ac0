import ArgumentParser
import Rill

/// `rill describe`: prints the demo topology in Kafka Streams' text format.
struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the demo topology (sources, processors, sinks and sub-topologies).")

    func run() throws {
        print(try demoTopology().describe(), terminator: "")
    }
}
