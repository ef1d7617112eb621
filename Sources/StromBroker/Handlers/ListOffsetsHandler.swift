import KafkaProtocol
import StromStorage

/// ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first offset at or after
/// a timestamp (offsets-for-times).
struct ListOffsetsHandler: Sendable {
    let partitions: any PartitionDirectory
    /// In a cluster, only a partition's leader answers. Nil alone.
    var replicas: ReplicaManager? = nil

    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3

    func handle(_ request: ListOffsetsRequest, version: Int16) -> ListOffsetsResponse {
        ListOffsetsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { partition in
                var result = lookup(topic: topic.name, partition: partition, isolationLevel: request.isolationLevel)
                // The leader epoch exists from v4 on, and Kafka refuses to drop it silently.
                if version < 4 { result.leaderEpoch = -1 }
                return result
            })
        })
    }

    private func lookup(
        topic: String, partition: ListOffsetsRequest.ListOffsetsPartition, isolationLevel: Int8
    ) -> ListOffsetsResponse.ListOffsetsPartitionResponse {
        var result = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1)
        guard let log = partitions.log(topic: topic, partition: partition.partitionIndex) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return result
        }
        if let replicas, let error = replicas.leaderError(log.topicPartition, currentLeaderEpoch: partition.currentLeaderEpoch) {
            result.errorCode = error.rawValue
            return result
        }
        let offsets = log.offsets
        result.leaderEpoch = log.leaderEpoch
        switch partition.timestamp {
        case Self.latest:
            // read_committed (1) stops at the last stable offset.
            result.offset = isolationLevel == 1 ? offsets.lastStableOffset : offsets.highWatermark
        case Self.earliest:
            result.offset = offsets.logStartOffset
        case Self.maxTimestamp:
            do {
                if let found = try log.maxTimestamp() {
                    result.offset = found.offset
                    result.timestamp = found.timestampMs
                }
            } catch {
                result.errorCode = error.kafkaErrorCode.rawValue
            }
        default:
            do {
                if let found = try log.offset(forTimestamp: partition.timestamp) {
                    result.offset = found.offset
                    result.timestamp = found.timestampMs
                }
            } catch {
                result.errorCode = error.kafkaErrorCode.rawValue
            }
        }
        return result
    }
}
