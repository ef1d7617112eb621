import KafkaProtocol

/// One transactional id's state at its transaction coordinator (Kafka's `TransactionMetadata`):
/// the producer id and epoch it hands out, the partitions of the open transaction, and where that
/// transaction is. A pure value: the coordinator's state machine moves it with Kafka's transitions
/// and writes each new state as a `TransactionLog` record before it answers.
struct TransactionMetadata: Sendable, Equatable {
    /// Kafka's `TransactionState`, with the ids its log records carry.
    enum State: Int8, Sendable, CaseIterable {
        case empty = 0
        case ongoing = 1
        case prepareCommit = 2
        case prepareAbort = 3
        case completeCommit = 4
        case completeAbort = 5
        case dead = 6
        /// An open transaction of a fenced producer, on its way to being aborted.
        case prepareEpochFence = 7

        /// Kafka's names, as DescribeTransactions and ListTransactions report them.
        var name: String {
            switch self {
            case .empty: "Empty"
            case .ongoing: "Ongoing"
            case .prepareCommit: "PrepareCommit"
            case .prepareAbort: "PrepareAbort"
            case .completeCommit: "CompleteCommit"
            case .completeAbort: "CompleteAbort"
            case .dead: "Dead"
            case .prepareEpochFence: "PrepareEpochFence"
            }
        }

        /// The states a transaction may come from (Kafka's `validPreviousStates`).
        var validPrevious: Set<State> {
            switch self {
            case .empty: [.empty, .completeCommit, .completeAbort]
            case .ongoing: [.ongoing, .empty, .completeCommit, .completeAbort]
            case .prepareCommit: [.ongoing]
            case .prepareAbort: [.ongoing, .prepareEpochFence]
            case .completeCommit: [.prepareCommit]
            case .completeAbort: [.prepareAbort]
            case .dead: [.empty, .completeCommit, .completeAbort]
            case .prepareEpochFence: [.ongoing]
            }
        }

        /// Waiting for markers: requests for the transactional id are answered CONCURRENT_TRANSACTIONS.
        var isPreparing: Bool { self == .prepareCommit || self == .prepareAbort || self == .prepareEpochFence }
    }

    struct TopicPartitionName: Hashable, Sendable, Comparable {
        var topic: String
        var partition: Int32

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition) }
    }

    let transactionalId: String
    var producerId: Int64
    /// The producer id before the last one handed out (KIP-360: a producer may come back with it).
    var previousProducerId: Int64 = -1
    var producerEpoch: Int16
    /// The epoch before the last bump (a retried InitProducerId whose answer was lost is recognised).
    var lastProducerEpoch: Int16 = -1
    var transactionTimeoutMs: Int32
    var state: State = .empty
    var partitions: Set<TopicPartitionName> = []
    var transactionStartMs: Int64 = -1
    var lastUpdateMs: Int64

    /// The highest epoch a producer id carries before a new id is needed (Kafka leaves room for one
    /// more bump, used when fencing).
    static let epochMax: Int16 = Int16.max - 1

    enum TransitionError: Error, Equatable {
        case illegal(from: State, to: State)
    }

    /// Moves to `state`, if Kafka allows it from here.
    mutating func transition(to next: State, nowMs: Int64) throws(TransitionError) {
        guard next.validPrevious.contains(state) else { throw .illegal(from: state, to: next) }
        if next == .ongoing, state != .ongoing { transactionStartMs = nowMs }
        // A finished transaction names no partitions any more (the prepare record had them, for the markers).
        if [.empty, .completeCommit, .completeAbort, .dead].contains(next) { partitions = [] }
        state = next
        lastUpdateMs = nowMs
    }

    /// Whether the open transaction has run past its timeout.
    func hasExpired(nowMs: Int64) -> Bool {
        state == .ongoing && transactionStartMs >= 0 && nowMs >= transactionStartMs + Int64(transactionTimeoutMs)
    }

    // MARK: The log record

    var key: TransactionLogKey { TransactionLogKey(transactionalId: transactionalId) }

    /// Kafka's `TransactionLogValue` (partitions by topic, sorted), the record written for each state.
    var value: TransactionLogValue {
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        return TransactionLogValue(
            producerId: producerId, previousProducerId: previousProducerId, nextProducerId: -1, producerEpoch: producerEpoch,
            transactionTimeoutMs: transactionTimeoutMs, transactionStatus: state.rawValue,
            transactionPartitions: byTopic.keys.sorted().map { topic in
                .init(topic: topic, partitionIds: byTopic[topic]!.map(\.partition).sorted())
            },
            transactionLastUpdateTimestampMs: lastUpdateMs, transactionStartTimestampMs: transactionStartMs)
    }

    /// The metadata a loaded record describes; nil for a record Strom cannot read (an unknown state).
    init?(transactionalId: String, value: TransactionLogValue) {
        guard let state = State(rawValue: value.transactionStatus) else { return nil }
        self.transactionalId = transactionalId
        self.producerId = value.producerId
        self.previousProducerId = value.previousProducerId
        self.producerEpoch = value.producerEpoch
        self.transactionTimeoutMs = value.transactionTimeoutMs
        self.state = state
        self.partitions = Set((value.transactionPartitions ?? []).flatMap { topic in
            topic.partitionIds.map { TopicPartitionName(topic: topic.topic, partition: $0) }
        })
        self.transactionStartMs = value.transactionStartTimestampMs
        self.lastUpdateMs = value.transactionLastUpdateTimestampMs
    }

    init(transactionalId: String, producerId: Int64, producerEpoch: Int16, transactionTimeoutMs: Int32, nowMs: Int64) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.transactionTimeoutMs = transactionTimeoutMs
        self.lastUpdateMs = nowMs
    }
}
