import Logging

/// Creates a coordinator's topic (`__consumer_offsets`, `__share_group_state`,
/// `__transaction_state`) on first use, as Kafka does: once, however many requests ask at the
/// same time.
actor CoordinatorTopicCreation {
    private let topic: String
    private let partitionCount: Int32
    private let logger: Logger
    private var creation: Task<Void, Never>?

    init(topic: String, partitionCount: Int32, logger: Logger) {
        self.topic = topic
        self.partitionCount = partitionCount
        self.logger = logger
    }

    /// The topic's partition count, creating the topic first if it does not exist; nil when it
    /// cannot be created now (the failure is logged, the next call tries again).
    func partitionCount(host: any CoordinatorTopicHost) async -> Int32? {
        if let existing = host.coordinatorTopicPartitionCount(topic) { return existing }
        let creation = self.creation ?? Task { [topic, partitionCount, logger] in
            do {
                try await host.createCoordinatorTopic(topic, partitionCount: partitionCount)
            } catch {
                logger.error("creating \(topic) failed: \(error)")
            }
        }
        self.creation = creation
        await creation.value
        self.creation = nil
        return host.coordinatorTopicPartitionCount(topic)
    }
}
