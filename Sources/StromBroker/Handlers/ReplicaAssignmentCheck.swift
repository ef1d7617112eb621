import KafkaProtocol

/// Kafka's checks of an explicit replica assignment (CreateTopics, CreatePartitions), as its
/// controller's `validateManualPartitionAssignment` makes them: each partition on at least one
/// registered broker, no broker twice, the same replication factor throughout, and for a new
/// topic partitions numbered 0, 1, 2, ... with no gap.
enum ReplicaAssignmentCheck {
    struct Problem: Error, Equatable {
        var code: KafkaErrorCode
        var message: String
    }

    /// - Parameters: assignments: (partition index, broker ids); registered: the live brokers;
    ///   firstPartition: where new partitions start (0 for a new topic).
    static func check(_ assignments: [(partition: Int32, brokers: [Int32])], registered: Set<Int32>, firstPartition: Int32 = 0) -> Problem? {
        let indices = assignments.map(\.partition)
        guard Set(indices).count == indices.count else {
            return Problem(code: .invalidReplicaAssignment, message: "a partition is assigned more than once")
        }
        guard indices.sorted() == Array(firstPartition..<firstPartition + Int32(indices.count)) else {
            return Problem(code: .invalidReplicaAssignment, message: "partitions should be a consecutive 0-based integer sequence")
        }
        let factor = assignments.first?.brokers.count ?? 0
        for assignment in assignments {
            guard !assignment.brokers.isEmpty else {
                return Problem(code: .invalidReplicaAssignment, message: "partition \(assignment.partition) has an empty replica list")
            }
            guard Set(assignment.brokers).count == assignment.brokers.count else {
                return Problem(code: .invalidReplicaAssignment, message: "partition \(assignment.partition) lists a broker twice: \(assignment.brokers)")
            }
            if let unknown = assignment.brokers.first(where: { !registered.contains($0) }) {
                return Problem(code: .invalidReplicaAssignment, message: "partition \(assignment.partition) names broker \(unknown), which is not registered")
            }
            guard assignment.brokers.count == factor else {
                return Problem(
                    code: .invalidReplicaAssignment,
                    message: "partition \(assignment.partition) has \(assignment.brokers.count) replicas where the others have \(factor)")
            }
        }
        return nil
    }
}
