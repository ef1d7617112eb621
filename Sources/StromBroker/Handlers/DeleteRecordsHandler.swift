import KafkaProtocol
import StromStorage

/// DeleteRecords: moves each partition's log start offset forward (-1 means the high watermark);
/// whole segments below it go with the next retention round. The new start offsets are
/// checkpointed before the answer, so a restart does not bring deleted records back.
struct DeleteRecordsHandler: Sendable {
    let broker: Broker

    /// Kafka's "up to the high watermark" offset.
    static let highWatermarkOffset: Int64 = -1

    func handle(_ request: DeleteRecordsRequest) -> DeleteRecordsResponse {
        var response = DeleteRecordsResponse(topics: [])
        var advanced = false
        for topic in request.topics {
            var topicResult = DeleteRecordsResponse.DeleteRecordsTopicResult(name: topic.name, partitions: [])
            for partition in topic.partitions {
                var result = DeleteRecordsResponse.DeleteRecordsPartitionResult(partitionIndex: partition.partitionIndex, lowWatermark: -1)
                if let log = broker.partitions.log(topic: topic.name, partition: partition.partitionIndex) {
                    let offset = partition.offset == Self.highWatermarkOffset ? log.offsets.highWatermark : partition.offset
                    do {
                        guard offset >= 0 else {
                            throw LogReadError.offsetOutOfRange(requested: offset, logStartOffset: log.offsets.logStartOffset, logEndOffset: log.offsets.highWatermark)
                        }
                        result.lowWatermark = try log.advanceLogStartOffset(to: offset)
                        advanced = true
                    } catch let error as LogReadError {
                        result.errorCode = error.kafkaErrorCode.rawValue
                    } catch {
                        result.errorCode = KafkaErrorCode.unknownServerError.rawValue
                    }
                } else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                }
                topicResult.partitions.append(result)
            }
            response.topics.append(topicResult)
        }
        if advanced {
            do {
                try broker.logs.checkpoint()
            } catch {
                // Not durable yet: say so rather than report a deletion a restart could undo.
                for topicIndex in response.topics.indices {
                    for partitionIndex in response.topics[topicIndex].partitions.indices
                    where response.topics[topicIndex].partitions[partitionIndex].errorCode == 0 {
                        response.topics[topicIndex].partitions[partitionIndex].errorCode = KafkaErrorCode.kafkaStorageError.rawValue
                    }
                }
            }
        }
        return response
    }
}
