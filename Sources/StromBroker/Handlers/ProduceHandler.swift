import KafkaProtocol
import NIOCore
import StromStorage

/// Produce: validate each partition's batch (CRC, framing, counts; decompressing within a bound),
/// append it verbatim, and answer per partition. acks=all waits for group commit; acks=1 answers
/// after the append and asks for a flush soon (the high watermark moves with it); acks=0 answers
/// nothing. One bad partition never fails the others.
struct ProduceHandler: Sendable {
    let partitions: any PartitionDirectory
    let groupCommit: GroupCommit
    /// The most a compressed batch may inflate to while it is validated.
    let decompressedSizeBytesMax: Int
    let validation: ProduceValidation
    /// `produce.batch.max.records`.
    var recordsPerBatchMax = 1_000_000

    private struct Appended {
        var topicIndex: Int
        var partitionIndex: Int
        var log: PartitionLog
        var lastOffset: Int64
    }

    /// Returns nil for acks=0, which gets no response.
    func handle(_ request: ProduceRequest, nowMs: Int64) async -> ProduceResponse? {
        var response = ProduceResponse(responses: request.topicData.map { topic in
            .init(name: topic.name, partitionResponses: topic.partitionData.map { .init(index: $0.index, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1) })
        })
        guard [0, 1, -1].contains(request.acks) else {
            setError(.invalidRequiredAcks, in: &response)
            return response
        }
        var appended: [Appended] = []
        for (topicIndex, topic) in request.topicData.enumerated() {
            for (partitionIndex, partition) in topic.partitionData.enumerated() {
                var result = response.responses[topicIndex].partitionResponses[partitionIndex]
                if let outcome = append(topic: topic.name, partition: partition, nowMs: nowMs, into: &result) {
                    appended.append(Appended(topicIndex: topicIndex, partitionIndex: partitionIndex, log: outcome.0, lastOffset: outcome.1))
                }
                response.responses[topicIndex].partitionResponses[partitionIndex] = result
            }
        }
        if request.acks == -1 {
            for entry in appended {
                do {
                    _ = try await groupCommit.waitUntilDurable(entry.log, offset: entry.lastOffset)
                } catch {
                    response.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorCode = KafkaErrorCode.kafkaStorageError.rawValue
                    response.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorMessage = "flush failed: \(error)"
                }
            }
        } else {
            // Consumers read up to the high watermark, which moves with the next flush.
            for entry in appended { groupCommit.requestFlush(entry.log) }
        }
        return request.acks == 0 ? nil : response
    }

    /// Appends one partition's records; returns the log and last offset when it succeeded.
    private func append(
        topic: String, partition: ProduceRequest.PartitionProduceData, nowMs: Int64,
        into result: inout ProduceResponse.PartitionProduceResponse
    ) -> (PartitionLog, Int64)? {
        guard let log = partitions.log(topic: topic, partition: partition.index) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return nil
        }
        guard var records = partition.records, records.readableBytes > 0 else {
            result.errorCode = KafkaErrorCode.invalidRecord.rawValue
            result.errorMessage = "no records"
            return nil
        }
        // The topic's max.message.bytes (its override, else the broker's default), checked before
        // the batch is parsed and its CRC computed.
        guard records.readableBytes <= log.config.maxMessageSizeBytes + RecordBatchHeader.logOverheadBytes else {
            result.errorCode = KafkaErrorCode.messageTooLarge.rawValue
            return nil
        }
        do {
            let batch = try RecordBatch.read(from: &records)
            // Magic 2 produce requests carry exactly one batch (Kafka's rule).
            guard records.readableBytes == 0 else {
                result.errorCode = KafkaErrorCode.invalidRecord.rawValue
                result.errorMessage = "a produce request must carry one record batch per partition"
                return nil
            }
            guard Int(batch.header.recordCount) <= recordsPerBatchMax else {
                result.errorCode = KafkaErrorCode.invalidRecord.rawValue
                result.errorMessage = "a batch of \(batch.header.recordCount) records is more than produce.batch.max.records (\(recordsPerBatchMax))"
                return nil
            }
            if validation == .relaxed, batch.header.attributes.compressionCodecId != CompressionCodec.none.rawValue, !log.config.isCompacted {
                try batch.validateHeaderAndChecksum(mode: .produced)
            } else {
                try batch.validate(mode: .produced, decompressedSizeBytesMax: decompressedSizeBytesMax)
            }
            let info = try log.append(batch, nowMs: nowMs)
            result.baseOffset = info.firstOffset
            result.logAppendTimeMs = info.logAppendTimeMs
            result.logStartOffset = info.logStartOffset
            return (log, info.lastOffset)
        } catch let error as RecordBatchError {
            result.errorCode = error.kafkaErrorCode.rawValue
            result.errorMessage = "\(error)"
        } catch let error as LogAppendError {
            result.errorCode = error.kafkaErrorCode.rawValue
            result.errorMessage = "\(error)"
        } catch {
            result.errorCode = KafkaErrorCode.unknownServerError.rawValue
        }
        return nil
    }

    private func setError(_ code: KafkaErrorCode, in response: inout ProduceResponse) {
        for topic in response.responses.indices {
            for partition in response.responses[topic].partitionResponses.indices {
                response.responses[topic].partitionResponses[partition].errorCode = code.rawValue
            }
        }
    }
}
