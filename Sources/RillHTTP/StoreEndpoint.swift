import Foundation
import Hummingbird
import Rill
import RillKafka

/// One queryable store's requests, typed once when it is registered.
struct StoreEndpoint: Sendable {
    let name: String
    /// "key-value", "window" or "session".
    let kind: String
    /// `GET /stores/{store}/{key}`: the key's value (windows, sessions), from here or a redirect.
    let key: @Sendable (_ key: String, _ query: Parameters, _ path: String) throws -> Response
    /// `GET /stores/{store}`: a range on this instance.
    let range: @Sendable (_ query: Parameters) throws -> Response

    typealias Parameters = [String: String]
}

extension StoreEndpoint {
    static func keyValue<K: LosslessStringConvertible & Encodable, V: Encodable>(
        name: String, streams: KafkaStreams, key: K.Type, value: V.Type
    ) -> StoreEndpoint {
        let view = Query { try streams.store(named: name, type: .keyValueStore(K.self, V.self)) }
        return StoreEndpoint(
            name: name, kind: "key-value",
            key: { text, query, path in
                let key = try parse(text, as: K.self, store: name, what: "key")
                if let redirect = try route(streams, store: name, key: key, query: query, path: path) { return redirect }
                guard let value = try view.run({ try $0.get(key) }) else {
                    throw HTTPFailure(.notFound, "store '\(name)' has no value for key '\(text)'")
                }
                return JSONReply.ok(Entry(key: key, value: value))
            },
            range: { query in
                let from = try query["from"].map { try parse($0, as: K.self, store: name, what: "range start 'from'") }
                let to = try query["to"].map { try parse($0, as: K.self, store: name, what: "range end 'to'") }
                let entries = try view.run { try $0.range(from: from, to: to) }
                return JSONReply.ok(entries.map { Entry(key: $0.key, value: $0.value) })
            })
    }

    static func window<K: LosslessStringConvertible & Encodable, V: Encodable>(
        name: String, streams: KafkaStreams, key: K.Type, value: V.Type
    ) -> StoreEndpoint {
        let view = Query { try streams.store(named: name, type: .windowStore(K.self, V.self)) }
        let size = windowSize(of: name, in: streams.topology)
        return StoreEndpoint(
            name: name, kind: "window",
            key: { text, query, path in
                let key = try parse(text, as: K.self, store: name, what: "key")
                let (from, to) = try timeRange(query, store: name)
                if let redirect = try route(streams, store: name, key: key, query: query, path: path) { return redirect }
                let windows = try view.run { try $0.fetch(key, from: from, to: to) }
                return JSONReply.ok(windows.map { WindowEntry(key: key, start: $0.key, size: size, value: $0.value) })
            },
            range: { query in
                let (from, to) = try timeRange(query, store: name)
                let windows = try view.run { try $0.fetchAll(from: from, to: to) }
                return JSONReply.ok(windows.map {
                    WindowEntry(key: $0.key.key, windowStart: $0.key.window.start, windowEnd: $0.key.window.end, value: $0.value)
                })
            })
    }

    static func session<K: LosslessStringConvertible & Encodable, V: Encodable>(
        name: String, streams: KafkaStreams, key: K.Type, value: V.Type
    ) -> StoreEndpoint {
        let view = Query { try streams.store(named: name, type: .sessionStore(K.self, V.self)) }
        return StoreEndpoint(
            name: name, kind: "session",
            key: { text, query, path in
                let key = try parse(text, as: K.self, store: name, what: "key")
                if let redirect = try route(streams, store: name, key: key, query: query, path: path) { return redirect }
                let sessions = try view.run { try $0.fetch(key) }
                return JSONReply.ok(sessions.map {
                    WindowEntry(key: key, windowStart: $0.key.window.start, windowEnd: $0.key.window.end, value: $0.value)
                })
            },
            range: { _ in
                throw HTTPFailure(.badRequest, "store '\(name)' is a session store: ask for one key, /stores/\(name)/{key}")
            })
    }

    /// A redirect to the instance holding `key`, or nil when it is this one (or routing is off:
    /// no `application.server`). A request already redirected once is not sent on again.
    private static func route<K>(_ streams: KafkaStreams, store: String, key: K, query: Parameters, path: String) throws
        -> Response?
    {
        guard let here = streams.config.applicationServer else { return nil }
        let owner: KeyQueryMetadata?
        owner = try streams.metadata(forKey: key, store: store)
        guard let owner else {
            throw HTTPFailure(.serviceUnavailable, "no instance is known to hold key '\(key)' of store '\(store)' yet (a rebalance is under way); retry")
        }
        guard owner.activeHost != here else { return nil }
        guard query["routed"] == nil else {
            throw HTTPFailure(
                .serviceUnavailable,
                "key '\(key)' of store '\(store)' was routed here, but this instance sees \(owner.activeHost) holding it; retry")
        }
        var parameters = query
        parameters["routed"] = "1"
        let queryText = parameters.sorted { $0.key < $1.key }.map { "\(escape($0.key))=\(escape($0.value))" }.joined(separator: "&")
        return Response(status: .temporaryRedirect, headers: [.location: "http://\(owner.activeHost)\(path)?\(queryText)"])
    }

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? text
    }

    private static func parse<K: LosslessStringConvertible>(_ text: String, as: K.Type, store: String, what: String) throws -> K {
        guard let value = K(text) else {
            throw HTTPFailure(.badRequest, "\(what) '\(text)' of store '\(store)' is not a \(K.self)")
        }
        return value
    }

    /// `from` and `to`, window starts in epoch ms (both optional: all time).
    private static func timeRange(_ query: Parameters, store: String) throws -> (Int64, Int64) {
        func time(_ name: String, _ otherwise: Int64) throws -> Int64 {
            guard let text = query[name] else { return otherwise }
            guard let value = Int64(text) else {
                throw HTTPFailure(.badRequest, "'\(name)' of a window query on store '\(store)' must be epoch milliseconds, got '\(text)'")
            }
            return value
        }
        let (from, to) = (try time("from", 0), try time("to", Int64.max))
        guard from <= to else {
            throw HTTPFailure(.badRequest, "the window range of store '\(store)' is empty: from \(from) is after to \(to)")
        }
        return (from, to)
    }

    /// The window size of a windowed store's aggregation, when the topology says it.
    private static func windowSize(of store: String, in topology: Topology) -> Int64? {
        (topology.stores.first { $0.builder.name == store }?.builder as? any WindowSized)?.windowSizeMs
    }
}

/// A store view, made for each query (which checks the store's name); queries' errors as HTTP failures.
private final class Query<View>: @unchecked Sendable {
    private let make: () throws -> View
    init(_ make: @escaping () throws -> View) { self.make = make }

    func run<R>(_ body: (View) throws -> R) throws -> R {
        try body(try make())
    }
}

private struct Entry<K: Encodable, V: Encodable>: Encodable {
    let key: K
    let value: V
}

private struct WindowEntry<K: Encodable, V: Encodable>: Encodable {
    let key: K
    let windowStart: Int64
    let windowEnd: Int64?
    let value: V

    init(key: K, windowStart: Int64, windowEnd: Int64?, value: V) {
        self.key = key
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.value = value
    }

    init(key: K, start: Int64, size: Int64?, value: V) {
        self.init(key: key, windowStart: start, windowEnd: size.map { start &+ $0 }, value: value)
    }
}

/// A window store builder's window size, which its entries' ends need.
private protocol WindowSized {
    var windowSizeMs: Int64 { get }
}

extension WindowStoreBuilder: WindowSized {
    fileprivate var windowSizeMs: Int64 { supplier.windowSize }
}
