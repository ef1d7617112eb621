import KafkaProtocol
import StromStorage

/// ListOffsets: earliest (-2), latest (-1), max timestamp (-3), earliest local (-4), latest
/// tiered (-5), or the first offset at or after a timestamp (offsets-for-times). Strom has no
/// tiered storage, so, as Kafka without remote storage answers them, -4 is the log start and -5
/// finds nothing (offset -1).
struct ListOffsetsHandler: Sendable {
    let partitions: any PartitionDirectory
    /// In a cluster, only a partition's leader answers. Nil alone.
    var replicas: ReplicaManager? = nil

    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3
    static let earliestLocal: Int64 = -4
    static let latestTiered: Int64 = -5

    /// The first version that knows each special timestamp (Kafka's `timestampMinSupportedVersion`).
    static let specialTimestampVersions: [Int64: Int16] = [latest: 0, earliest: 0, maxTimestamp: 7, earliestLocal: 8, latestTiered: 9]

    func handle(_ request: ListOffsetsRequest, version: Int16) -> ListOffsetsResponse {
        ListOffsetsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { partition in
                var result = lookup(topic: topic.name, partition: partition, isolationLevel: request.isolationLevel, version: version)
                // The leader epoch exists from v4 on, and Kafka refuses to drop it silently.
                if version < 4 { result.leaderEpoch = -1 }
                return result
            })
        })
    }

    private func lookup(
        topic: String, partition: ListOffsetsRequest.ListOffsetsPartition, isolationLevel: Int8, version: Int16
    ) -> ListOffsetsResponse.ListOffsetsPartitionResponse {
        var result = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex, timestamp: -1, offset: -1, leaderEpoch: -1)
        // A negative timestamp that is not a special one, or one this version does not know yet.
        if partition.timestamp < 0, (Self.specialTimestampVersions[partition.timestamp].map { version < $0 } ?? true) {
            result.errorCode = KafkaErrorCode.unsupportedVersion.rawValue
            return result
        }
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
        case Self.earliest, Self.earliestLocal:
            result.offset = offsets.logStartOffset
        case Self.latestTiered:
            result.leaderEpoch = -1  // nothing is tiered: offset -1, as Kafka answers without remote storage
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
