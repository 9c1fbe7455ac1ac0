/// What a processor sees of its task: where to forward, the current record's origin, time, and scheduling.
public class ProcessorContextBase {
    let task: TaskState
    /// The name of the processor node this context belongs to.
    public let nodeName: String

    init(task: TaskState, nodeName: String) {
        self.task = task
        self.nodeName = nodeName
    }

    /// `application.id`.
    public var applicationID: String { task.applicationID }
    /// The task this processor instance belongs to (`<sub-topology>_<partition>`).
    public var taskID: TaskID { task.taskID }
    /// Where the record being processed was read from; `nil` inside a punctuator.
    public var recordMetadata: RecordMetadata? { task.recordMetadata }
    /// The task's stream time: the largest record timestamp processed so far (-1 before any).
    public var currentStreamTime: Int64 { task.streamTime }
    /// The wall-clock time in epoch milliseconds (the test driver's mock clock under test).
    public var currentSystemTime: Int64 { task.wallClock() }

    /// Calls `punctuator` every `interval`, on stream time or wall-clock time.
    ///
    /// Stream-time punctuation fires when stream time passes the next due time (first as soon as the
    /// task has seen a record), at most once per advance; wall-clock punctuation fires every `interval`
    /// of wall-clock time after scheduling. The argument is the time of the punctuation.
    @discardableResult
    public func schedule(
        interval: Duration, type: PunctuationType, _ punctuator: @escaping (Int64) throws -> Void
    ) -> Cancellable {
        task.schedule(node: nodeName, intervalMs: interval.wholeMilliseconds, type: type, punctuator: punctuator)
    }

    /// The store named `name`; the processor must be connected to it (`stores:` when it is added).
    public func getStateStore(_ name: String) throws -> any StateStore {
        guard task.storesByNode[nodeName]?.contains(name) == true, let store = task.stores[name] else {
            throw StateStoreError(
                store: name,
                message: "processor '\(nodeName)' is not connected to it: name it in the processor's stores "
                    + "or connect it with Topology.connect(processor:toStore:)")
        }
        return store
    }

    /// The key-value store named `name`, typed.
    ///
    /// ```swift
    /// let counts: any KeyValueStore<String, Int64> = try context.keyValueStore(named: "counts")
    /// ```
    public func keyValueStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any KeyValueStore<K, V>
    {
        try typedStore(name, as: TypedKeyValueStore<K, V>.self, "a key-value store of \(K.self) to \(V.self)")
    }

    /// The window store named `name`, typed.
    public func windowStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any WindowStore<K, V>
    {
        try typedStore(name, as: TypedWindowStore<K, V>.self, "a window store of \(K.self) to \(V.self)")
    }

    /// The session store named `name`, typed.
    public func sessionStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any SessionStore<K, V>
    {
        try typedStore(name, as: TypedSessionStore<K, V>.self, "a session store of \(K.self) to \(V.self)")
    }

    private func typedStore<Store>(_ name: String, as type: Store.Type, _ kind: String) throws -> Store {
        let store = try getStateStore(name)
        guard let typed = store as? Store else {
            throw StateStoreError(store: name, message: "it is not \(kind) (it is \(Swift.type(of: store)))")
        }
        return typed
    }

    /// Asks the runtime to commit as soon as possible.
    public func commit() { task.commitRequested = true }
}

/// The context of a ``Processor`` whose output is `Record<KOut, VOut>`.
public final class ProcessorContext<KOut, VOut>: ProcessorContextBase {
    let downstream: Downstream<KOut, VOut>

    init(task: TaskState, nodeName: String, downstream: Downstream<KOut, VOut>) {
        self.downstream = downstream
        super.init(task: task, nodeName: nodeName)
    }

    /// Forwards `record` to every child.

    public func forward(_ record: Record<KOut, VOut>) throws {
        try downstream.forward(record)
    }

    /// Forwards `record` to the child named `childName` only.
    public func forward(_ record: Record<KOut, VOut>, to childName: String) throws {
        try downstream.forward(record, to: childName, from: nodeName)
    }
}

/// The context of a ``FixedKeyProcessor``: it forwards records whose key it can't change.
public final class FixedKeyProcessorContext<K, VOut>: ProcessorContextBase {
    let downstream: Downstream<K, VOut>

    init(task: TaskState, nodeName: String, downstream: Downstream<K, VOut>) {
        self.downstream = downstream
        super.init(task: task, nodeName: nodeName)
    }

    /// Forwards `record` to every child.

    public func forward(_ record: FixedKeyRecord<K, VOut>) throws {
        try downstream.forward(record.record)
    }

    /// Forwards `record` to the child named `childName` only.
    public func forward(_ record: FixedKeyRecord<K, VOut>, to childName: String) throws {
        try downstream.forward(record.record, to: childName, from: nodeName)
    }
}

/// Which clock a punctuator follows.
public enum PunctuationType: Sendable {
    /// Record time: fires as the task's stream time advances.
    case streamTime
    /// The system clock.
    case wallClockTime
}

/// Stops a scheduled punctuator.
public final class Cancellable {
    var isCancelled = false
    init() {}
    /// Stops future punctuations.
    public func cancel() { isCancelled = true }
}

/// A task: one sub-topology on one partition number, written `<subtopology>_<partition>`.
public struct TaskID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var subtopology: Int
    public var partition: Int32

    public init(subtopology: Int, partition: Int32) {
        self.subtopology = subtopology
        self.partition = partition
    }

    public var description: String { "\(subtopology)_\(partition)" }

    public static func < (a: TaskID, b: TaskID) -> Bool {
        (a.subtopology, a.partition) < (b.subtopology, b.partition)
    }
}

extension Duration {
    /// Whole milliseconds (sub-millisecond parts are dropped).
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
