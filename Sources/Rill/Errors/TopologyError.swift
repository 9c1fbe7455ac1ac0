/// A topology that can't work, found while building it. The message names the operator at fault.
public struct TopologyError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "Invalid topology: \(message)" }

    static func duplicateName(_ name: String) -> TopologyError {
        TopologyError("processor name '\(name)' is used more than once")
    }
    static func unknownParent(_ parent: String, child: String) -> TopologyError {
        TopologyError("'\(child)' names unknown parent '\(parent)'")
    }
    static let noSources = TopologyError("it has no source: add a stream or a source node that reads a topic")
}
