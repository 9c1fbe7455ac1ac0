/// Where a task's sinks send serialized records: the producer at run time, memory under the test driver.
@usableFromInline
package protocol RecordCollector: AnyObject {
    /// Sends one record. `partition` nil means the default partitioner (murmur2 of the key, as Kafka's).
    func send(
        topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers
    ) throws
    /// The partition count of `topic`, for custom partitioners.
    func partitionCount(topic: String) throws -> Int32
}
