/// A node of the Processor API: receives records one at a time and forwards any number of records.
///
/// One instance runs per task, on that task's thread; it may keep state in properties.
///
/// ```swift
/// final class Tagger: Processor {
///     var context: ProcessorContext<String, String>!
///     func initialize(context: ProcessorContext<String, String>) { self.context = context }
///     func process(_ record: Record<String, String>) throws {
///         try context.forward(record.withValue(record.value + "!"))
///     }
/// }
/// ```
public protocol Processor<KIn, VIn, KOut, VOut>: AnyObject {
    associatedtype KIn
    associatedtype VIn
    associatedtype KOut
    associatedtype VOut

    /// Called once before the first record, with the context to forward through and schedule on.
    func initialize(context: ProcessorContext<KOut, VOut>) throws
    /// Called for each record.
    func process(_ record: Record<KIn, VIn>) throws
    /// Called once when the task closes.
    func close()
}

extension Processor {
    public func initialize(context: ProcessorContext<KOut, VOut>) throws {}
    public func close() {}
}

/// A processor that may change values but never keys, so no repartitioning follows it
/// (used by ``KStream/processValues(named:_:)``).
public protocol FixedKeyProcessor<K, VIn, VOut>: AnyObject {
    associatedtype K
    associatedtype VIn
    associatedtype VOut

    func initialize(context: FixedKeyProcessorContext<K, VOut>) throws
    func process(_ record: FixedKeyRecord<K, VIn>) throws
    func close()
}

extension FixedKeyProcessor {
    public func initialize(context: FixedKeyProcessorContext<K, VOut>) throws {}
    public func close() {}
}
