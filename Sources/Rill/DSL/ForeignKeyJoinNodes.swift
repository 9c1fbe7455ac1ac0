/// The serdes of a foreign-key join's two tables, as the DSL knows them; each node resolves the
/// ones it needs when its task starts, falling back to the configured defaults.
struct ForeignKeyJoinSerdes<K, V, KO, VO>: Sendable {
    let key: Serde<K>?
    let value: Serde<V>?
    let foreignKey: Serde<KO>?
    let foreignValue: Serde<VO>?
}

/// Left side, on each change of a left row: subscribes the row to its foreign key on the
/// subscription topic, and unsubscribes it from the foreign key it had before.
///
/// Each change makes at most one subscription that answers, so the row's result never depends on
/// which of two foreign-key partitions answers last.
final class SubscriptionSendNode<K, V, KO>: InputNode<K, Change<V>> {
    let downstream: Downstream<[UInt8]?, ForeignKeySubscription>
    let foreignKey: @Sendable (V) throws -> KO?
    let leftJoin: Bool
    private let keySerde: Serde<K>
    private let valueSerde: Serde<V>
    private let foreignKeySerde: Serde<KO>

    init<VO>(
        name: String, context: NodeContext, serdes: ForeignKeyJoinSerdes<K, V, KO, VO>, leftJoin: Bool,
        foreignKey: @escaping @Sendable (V) throws -> KO?
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        self.foreignKey = foreignKey
        self.leftJoin = leftJoin
        keySerde = try resolve(serdes.key, context.task.config.defaultKeySerde, node: name, part: "key")
        valueSerde = try resolve(serdes.value, context.task.config.defaultValueSerde, node: name, part: "value")
        foreignKeySerde = try resolve(serdes.foreignKey, context.task.config.defaultKeySerde, node: name, part: "foreign key")
        super.init(name: name, task: context.task)
    }

    /// The serialized foreign key of `value`, or `nil` when it has none.
    private func foreignKeyBytes(_ value: V?) throws -> [UInt8]? {
        guard let value, let key = try userCode(self, { try foreignKey(value) }) else { return nil }
        return try foreignKeySerde.serialize(key)
    }

    override func process(_ record: Record<K, Change<V>>) throws {
        let change = record.value
        let newKey = try foreignKeyBytes(change.newValue)
        let oldKey = try foreignKeyBytes(change.oldValue)
        let hash = try change.newValue.map { ValueHash(of: try valueSerde.serialize($0) ?? []) }
        let primaryKey = try keySerde.serialize(record.key) ?? []
        func send(_ key: [UInt8]?, _ instruction: SubscriptionInstruction) throws {
            try downstream.forward(
                Record(
                    key: key,
                    value: ForeignKeySubscription(
                        hash: hash, instruction: instruction, primaryKey: primaryKey, primaryPartition: task.taskID.partition),
                    timestamp: record.timestamp, headers: record.headers))
        }

        guard change.newValue != nil else {
            // A deleted row: its result is deleted through the foreign key it had (or directly, for a
            // left join row that had none).
            if let oldKey {
                try send(oldKey, .deleteKeyAndPropagate)
            } else if leftJoin && change.oldValue != nil {
                try send(nil, .propagateNullIfNoForeignValue)
            }
            return
        }
        if let oldKey, oldKey != newKey {
            // An inner join row that lost its foreign key leaves the join: the old key answers with the deletion.
            try send(oldKey, newKey == nil && !leftJoin ? .deleteKeyAndPropagate : .deleteKeyNoPropagate)
        }
        guard newKey != nil || leftJoin else {
            if oldKey == nil {
                task.metrics.droppedRecords += 1
                task.logger.debug("Skipping record with a null foreign key in \(name)")
            }
            return
        }
        // A row that was joined before must hear back even when the foreign row is gone, so its old
        // result is replaced; a new inner join row only joins once there is a foreign row.
        try send(newKey, leftJoin || oldKey != nil ? .propagateNullIfNoForeignValue : .propagateOnlyIfForeignValue)
    }
}

/// Foreign side, on each subscription: keeps it in the subscription store (keyed by foreign key,
/// then left key) and answers with the foreign row's current value as its instruction says.
final class SubscriptionReceiveNode<KO, VO>: InputNode<[UInt8]?, ForeignKeySubscription> {
    let downstream: Downstream<[UInt8], ForeignKeyResponse>
    let subscriptionStoreName: String
    let foreignStoreName: String
    private let foreignValueSerde: Serde<VO>
    private var subscriptions: TypedKeyValueStore<[UInt8], ValueAndTimestamp<ForeignKeySubscription>>!
    private var foreignRows: TypedKeyValueStore<KO, ValueAndTimestamp<VO>>!

    init(name: String, context: NodeContext, subscriptionStore: String, foreignStore: String, foreignValueSerde: Serde<VO>?) throws {
        downstream = try Downstream(context.children, parent: name)
        subscriptionStoreName = subscriptionStore
        foreignStoreName = foreignStore
        self.foreignValueSerde = try resolve(
            foreignValueSerde, context.task.config.defaultValueSerde, node: name, part: "foreign value")
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        subscriptions = try task.store(subscriptionStoreName, as: TypedKeyValueStore<[UInt8], ValueAndTimestamp<ForeignKeySubscription>>.self)
        foreignRows = try task.store(foreignStoreName, as: TypedKeyValueStore<KO, ValueAndTimestamp<VO>>.self)
    }

    override func process(_ record: Record<[UInt8]?, ForeignKeySubscription>) throws {
        let subscription = record.value
        guard let foreignKey = record.key else {
            // A left join row without a foreign key: answered with no foreign value, never stored.
            guard subscription.instruction == .propagateNullIfNoForeignValue else {
                task.metrics.droppedRecords += 1
                task.logger.debug("Skipping subscription with a null foreign key in \(name)")
                return
            }
            return try respond(subscription, foreign: nil, timestamp: record.timestamp)
        }
        let key = CombinedKey.bytes(foreignKey: foreignKey, primaryKey: subscription.primaryKey)
        switch subscription.instruction {
        case .deleteKeyAndPropagate, .deleteKeyNoPropagate:
            try subscriptions.put(key, nil)
        case .propagateNullIfNoForeignValue, .propagateOnlyIfForeignValue:
            try subscriptions.put(key, ValueAndTimestamp(subscription, timestamp: record.timestamp))
        }
        let foreign = try foreignRows.get(keyBytes: foreignKey)
        let timestamp = max(record.timestamp, foreign?.timestamp ?? record.timestamp)
        switch subscription.instruction {
        case .deleteKeyAndPropagate:
            try respond(subscription, foreign: nil, timestamp: timestamp)
        case .propagateNullIfNoForeignValue:
            try respond(subscription, foreign: foreign?.value, timestamp: timestamp)
        case .propagateOnlyIfForeignValue:
            if let foreign { try respond(subscription, foreign: foreign.value, timestamp: timestamp) }
        case .deleteKeyNoPropagate:
            break
        }
    }

    private func respond(_ subscription: ForeignKeySubscription, foreign: VO?, timestamp: Int64) throws {
        let value = try foreign.flatMap { try foreignValueSerde.serialize($0) }
        try downstream.forward(
            Record(
                key: subscription.primaryKey,
                value: ForeignKeyResponse(hash: subscription.hash, foreignValue: value, primaryPartition: subscription.primaryPartition),
                timestamp: timestamp))
    }
}

/// Foreign side, on each change of a foreign row: answers every subscription to its key with the
/// new value (none when the row was deleted).
final class ForeignRowChangeNode<KO, VO>: InputNode<KO, Change<VO>> {
    let downstream: Downstream<[UInt8], ForeignKeyResponse>
    let subscriptionStoreName: String
    private let foreignKeySerde: Serde<KO>
    private let foreignValueSerde: Serde<VO>
    private var subscriptions: TypedKeyValueStore<[UInt8], ValueAndTimestamp<ForeignKeySubscription>>!

    init(
        name: String, context: NodeContext, subscriptionStore: String, foreignKeySerde: Serde<KO>?,
        foreignValueSerde: Serde<VO>?
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        subscriptionStoreName = subscriptionStore
        self.foreignKeySerde = try resolve(foreignKeySerde, context.task.config.defaultKeySerde, node: name, part: "key")
        self.foreignValueSerde = try resolve(
            foreignValueSerde, context.task.config.defaultValueSerde, node: name, part: "value")
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        subscriptions = try task.store(subscriptionStoreName, as: TypedKeyValueStore<[UInt8], ValueAndTimestamp<ForeignKeySubscription>>.self)
    }

    override func process(_ record: Record<KO, Change<VO>>) throws {
        let newValue = try record.value.newValue.flatMap { try foreignValueSerde.serialize($0) }
        if let old = record.value.oldValue, newValue != nil, try foreignValueSerde.serialize(old) == newValue {
            return  // the same value again: every answer would repeat the last one
        }
        guard let key = try foreignKeySerde.serialize(record.key) else { return }
        let prefix = CombinedKey.prefix(foreignKey: key)
        let subscribers = try subscriptions.range(from: prefix, to: CombinedKey.upperBound(of: prefix)).collect()
        for entry in subscribers where entry.key.starts(with: prefix) {
            let subscription = entry.value.value
            try downstream.forward(
                Record(
                    key: subscription.primaryKey,
                    value: ForeignKeyResponse(
                        hash: subscription.hash, foreignValue: newValue, primaryPartition: subscription.primaryPartition),
                    timestamp: record.timestamp, headers: record.headers))
        }
    }
}

/// Left side, on each response: joins it with the left row, unless the row has changed since the
/// subscription was sent (its hash differs), in which case a newer response is on its way.
final class ResponseResolverNode<K, V, VO, VR>: InputNode<[UInt8], ForeignKeyResponse> {
    let downstream: Downstream<K?, VR?>
    let leftStoreName: String
    let leftJoin: Bool
    let joiner: @Sendable (V, VO?) throws -> VR
    private let keySerde: Serde<K>
    private let valueSerde: Serde<V>
    private let foreignValueSerde: Serde<VO>
    private var leftRows: TypedKeyValueStore<K, ValueAndTimestamp<V>>!

    init<KO>(
        name: String, context: NodeContext, leftStore: String, serdes: ForeignKeyJoinSerdes<K, V, KO, VO>, leftJoin: Bool,
        joiner: @escaping @Sendable (V, VO?) throws -> VR
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        leftStoreName = leftStore
        self.leftJoin = leftJoin
        self.joiner = joiner
        keySerde = try resolve(serdes.key, context.task.config.defaultKeySerde, node: name, part: "key")
        valueSerde = try resolve(serdes.value, context.task.config.defaultValueSerde, node: name, part: "value")
        foreignValueSerde = try resolve(
            serdes.foreignValue, context.task.config.defaultValueSerde, node: name, part: "foreign value")
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        leftRows = try task.store(leftStoreName, as: TypedKeyValueStore<K, ValueAndTimestamp<V>>.self)
    }

    override func process(_ record: Record<[UInt8], ForeignKeyResponse>) throws {
        let response = record.value
        let current = try leftRows.get(keyBytes: record.key)
        let currentHash = try current.map { ValueHash(of: try valueSerde.serialize($0.value) ?? []) }
        guard currentHash == response.hash else {
            task.metrics.droppedRecords += 1
            task.logger.trace("Dropping a foreign-key join response for an older value of its row in \(name)")
            return
        }
        let result: VR?
        if let current, response.foreignValue != nil || leftJoin {
            let foreign = try response.foreignValue.map { try foreignValueSerde.deserialize($0) }
            result = try userCode(self) { try joiner(current.value, foreign) }
        } else {
            result = nil
        }
        try downstream.forward(
            Record(key: try keySerde.deserialize(record.key), value: result, timestamp: record.timestamp, headers: record.headers))
    }
}
