/// Where an instance of an application answers queries: its `application.server`, `host:port`
/// (Kafka Streams' `HostInfo`).
public struct HostInfo: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`[v6-address]:port` too); nil for anything else, or a port outside 1-65535.
    public init?(_ description: String) {
        guard let colon = description.lastIndex(of: ":"), let port = Int(description[description.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = Substring(description[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == " " || $0 == "@" }) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
