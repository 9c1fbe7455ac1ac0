import Rill
import RillTestDriver

enum TopologyTestDriverFactory {
    static func make(_ topology: Topology) throws -> TopologyTestDriver {
        try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "stores"))
    }
}
