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
    /// In a cluster: only the leader appends, acks=all needs `min.insync.replicas` in sync and is
    /// answered once the high watermark passes the batch. Nil alone.
    var replication: ProduceReplication?
    /// KIP-890: asks a transactional id's coordinator whether partitions are in the producer's
    /// open transaction (transactional id, producer id, epoch, partitions → code per partition).
    var verifyTransaction: (@Sendable (String, Int64, Int16, [TransactionMetadata.TopicPartitionName]) async
        -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode])?
    /// Counts what is appended (messages and bytes in, per topic).
    var metrics: BrokerMetrics?

    private struct Appended {
        var topicIndex: Int
        var partitionIndex: Int
        var log: PartitionLog
        var lastOffset: Int64
    }

    /// Returns nil for acks=0, which gets no response, unless a partition failed (the connection is
    /// then closed, as Kafka does).
    /// - Parameter afterAppends: called once every batch is appended, before waiting for durability
    ///   or replication (the connection's next request may append meanwhile).
    func handle(_ request: ProduceRequest, version: Int16 = 11, nowMs: Int64, afterAppends: @Sendable () -> Void = {}) async -> ProduceResponse? {
        var response = ProduceResponse(responses: request.topicData.map { topic in
            .init(name: topic.name, partitionResponses: topic.partitionData.map { .init(index: $0.index, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1) })
        })
        guard [0, 1, -1].contains(request.acks) else {
            setError(.invalidRequiredAcks, in: &response)
            return response
        }
        var appended: [Appended] = []
        let refusedByCoordinator = await verifyTransactions(request, version: version)
        for (topicIndex, topic) in request.topicData.enumerated() {
            for (partitionIndex, partition) in topic.partitionData.enumerated() {
                var result = response.responses[topicIndex].partitionResponses[partitionIndex]
                if let code = refusedByCoordinator[.init(topic: topic.name, partition: partition.index)] {
                    result.errorCode = code.rawValue
                    result.errorMessage = "the partition is not part of the producer's open transaction (verified with its coordinator)"
                    response.responses[topicIndex].partitionResponses[partitionIndex] = result
                    continue
                }
                if let replication, let error = replication.refusal(TopicPartition(topic: topic.name, partition: partition.index), acks: request.acks, partitions: partitions) {
                    result.errorCode = error.rawValue
                    response.responses[topicIndex].partitionResponses[partitionIndex] = result
                    continue
                }
                if let outcome = append(topic: topic.name, partition: partition, version: version, nowMs: nowMs, into: &result) {
                    appended.append(Appended(topicIndex: topicIndex, partitionIndex: partitionIndex, log: outcome.0, lastOffset: outcome.1))
                }
                response.responses[topicIndex].partitionResponses[partitionIndex] = result
            }
        }
        afterAppends()
        if let replication {
            if request.acks == -1 {
                let deadline = ContinuousClock.now + .milliseconds(Int64(max(request.timeoutMs, 0)))
                for entry in appended {
                    let code = await replication.awaitReplicated(entry.log, lastOffset: entry.lastOffset, groupCommit: groupCommit, deadline: deadline)
                    response.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorCode = code.rawValue
                }
            } else {
                for entry in appended {
                    groupCommit.requestFlush(entry.log)
                    // With write caching the leader's written end counts at once, not after the sync.
                    if !entry.log.config.flushesBeforeAcknowledging { replication.replicas.recomputeHighWatermark(entry.log.topicPartition) }
                }
            }
        } else if request.acks == -1 {
            for entry in appended {
                do {
                    try await groupCommit.waitUntilAcknowledgeable(entry.log, offset: entry.lastOffset)
                } catch {
                    response.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorCode = KafkaErrorCode.kafkaStorageError.rawValue
                    response.responses[entry.topicIndex].partitionResponses[entry.partitionIndex].errorMessage = "flush failed: \(error)"
                }
            }
        } else {
            // Consumers read up to the high watermark, which moves with the next flush.
            for entry in appended { groupCommit.requestFlush(entry.log) }
        }
        let failed = response.responses.contains { $0.partitionResponses.contains { $0.errorCode != 0 } }
        return request.acks == 0 && !failed ? nil : response
    }

    /// Appends one partition's records; returns the log and last offset when it succeeded.
    private func append(
        topic: String, partition: ProduceRequest.PartitionProduceData, version: Int16, nowMs: Int64,
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
        let sizeBytes = records.readableBytes
        do {
            let batch = try RecordBatch.read(from: &records)
            // Magic 2 produce requests carry exactly one batch (Kafka's rule).
            guard records.readableBytes == 0 else {
                result.errorCode = KafkaErrorCode.invalidRecord.rawValue
                result.errorMessage = "a produce request must carry one record batch per partition"
                return nil
            }
            // Only the transaction coordinator writes markers (WriteTxnMarkers), as in Kafka.
            guard !batch.header.attributes.isControl else {
                result.errorCode = KafkaErrorCode.invalidRecord.rawValue
                result.errorMessage = "control batches cannot be produced by clients"
                return nil
            }
            // zstd arrived with Produce v7 (KIP-110): an older request may not use it (Kafka's rule).
            guard version >= 7 || batch.header.attributes.compressionCodecId != CompressionCodec.zstd.rawValue else {
                result.errorCode = KafkaErrorCode.unsupportedCompressionType.rawValue
                result.errorMessage = "Produce requests with version \(version) are not allowed to use ZStandard compression"
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
            if log.config.isCompacted {
                let keyless = try Self.recordsWithoutKey(batch, decompressedSizeBytesMax: decompressedSizeBytesMax)
                if !keyless.isEmpty {
                    // Compaction keeps the latest record of each key: one without a key has no
                    // place. As Kafka's LogValidator: every such record is named (clients fail the
                    // others as "a different record was invalid"), and nothing of the batch is appended.
                    let message = "Compacted topic cannot accept message without key in topic partition \(topic)-\(partition.index)."
                    result.errorCode = KafkaErrorCode.invalidRecord.rawValue
                    result.recordErrors = keyless.map { .init(batchIndex: $0, batchIndexErrorMessage: message) }
                    result.errorMessage = "One or more records have been rejected due to \(keyless.count) record errors in total, and only "
                        + "showing the first three errors at most: [" + Array(repeating: message, count: min(3, keyless.count)).joined(separator: ", ") + "]"
                    return nil
                }
            }
            let info = try log.append(batch, nowMs: nowMs)
            metrics?.appended(topic: topic, records: Int(batch.header.recordCount), bytes: sizeBytes)
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
            if case .outOfOrderSequence(_, let expected, let received) = error, received > expected,
               let replication, replication.replicas.isNewLeader(log.topicPartition) {
                // A batch before it was refused here moments ago, as not yet leader: see isNewLeader.
                result.errorCode = KafkaErrorCode.notLeaderOrFollower.rawValue
            }
        } catch {
            result.errorCode = KafkaErrorCode.unknownServerError.rawValue
        }
        return nil
    }

    /// The indexes in `batch` of its records without a key.
    static func recordsWithoutKey(_ batch: RecordBatch, decompressedSizeBytesMax: Int) throws(RecordBatchError) -> [Int32] {
        var records = try batch.records(decompressedSizeBytesMax: decompressedSizeBytesMax)
        var index: Int32 = 0
        var keyless: [Int32] = []
        while let record = try records.next() {
            if record.key == nil { keyless.append(index) }
            index += 1
        }
        return keyless
    }

    /// KIP-890 part 1: a transactional producer's first batch in a partition (no transaction of
    /// its open here yet) is appended only if its coordinator says the partition was added to the
    /// transaction, so a late batch cannot open a transaction no marker will ever end. Returns
    /// the partitions refused, with Kafka's produce error for each.
    private func verifyTransactions(_ request: ProduceRequest, version: Int16) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        guard let transactionalId = request.transactionalId, let verifyTransaction else { return [:] }
        var producer: (id: Int64, epoch: Int16)?
        var unverified: [TransactionMetadata.TopicPartitionName] = []
        for topic in request.topicData {
            for partition in topic.partitionData {
                guard let records = partition.records, records.readableBytes >= RecordBatchHeader.sizeBytes,
                      let header = RecordBatchHeader(from: records, at: records.readerIndex), header.attributes.isTransactional,
                      let log = partitions.log(topic: topic.name, partition: partition.index),
                      !log.hasOpenTransaction(producerId: header.producerId, epoch: header.producerEpoch)
                else { continue }
                producer = (header.producerId, header.producerEpoch)
                unverified.append(.init(topic: topic.name, partition: partition.index))
            }
        }
        guard let producer, !unverified.isEmpty else { return [:] }
        let codes = await verifyTransaction(transactionalId, producer.id, producer.epoch, unverified)
        var refused: [TransactionMetadata.TopicPartitionName: KafkaErrorCode] = [:]
        for partition in unverified {
            switch codes[partition] ?? .coordinatorNotAvailable {
            case .none: continue
            // Kafka's mapping of the coordinator's answer onto the produce response.
            case .producerFenced: refused[partition] = .invalidProducerEpoch
            case .transactionAbortable: refused[partition] = version >= 11 ? .transactionAbortable : .invalidTxnState
            case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress, .concurrentTransactions, .networkException:
                refused[partition] = .notEnoughReplicas
            case let other: refused[partition] = other
            }
        }
        return refused
    }

    private func setError(_ code: KafkaErrorCode, in response: inout ProduceResponse) {
        for topic in response.responses.indices {
            for partition in response.responses[topic].partitionResponses.indices {
                response.responses[topic].partitionResponses[partition].errorCode = code.rawValue
            }
        }
    }
}

/// Produce on a replicated partition: the leader's checks before an append and its wait after.
struct ProduceReplication: Sendable {
    let replicas: ReplicaManager
    let waiters: HighWatermarkWaiters

    /// Why the append may not happen here: this broker does not lead the partition, or acks=all
    /// asks for more in-sync replicas than there are (`min.insync.replicas`, NOT_ENOUGH_REPLICAS).
    func refusal(_ topicPartition: TopicPartition, acks: Int16, partitions: any PartitionDirectory) -> KafkaErrorCode? {
        guard let log = partitions.log(topic: topicPartition.topic, partition: topicPartition.partition) else {
            // A partition of the cluster with no replica here: the client's metadata is stale.
            return partitions.partitionExists(topic: topicPartition.topic, partition: topicPartition.partition) ? .notLeaderOrFollower : nil
        }
        if let error = replicas.leaderError(topicPartition, currentLeaderEpoch: -1) { return error }
        if acks == -1, let inSync = replicas.inSyncReplicaCount(topicPartition), inSync < log.config.minInSyncReplicas {
            return .notEnoughReplicas
        }
        return nil
    }

    /// Waits until the batch ending at `lastOffset` is below the high watermark — durable on the
    /// leader and fetched (hence fsynced) by every in-sync replica; with `write.caching` written
    /// by each — or the request's time is up.
    func awaitReplicated(_ log: PartitionLog, lastOffset: Int64, groupCommit: GroupCommit, deadline: ContinuousClock.Instant) async -> KafkaErrorCode {
        do {
            try await groupCommit.waitUntilAcknowledgeable(log, offset: lastOffset)
        } catch {
            return .kafkaStorageError
        }
        let topicPartition = log.topicPartition
        let replicas = self.replicas
        if !log.config.flushesBeforeAcknowledging { replicas.recomputeHighWatermark(topicPartition) }
        while log.offsets.highWatermark <= lastOffset {
            if replicas.leaderError(topicPartition, currentLeaderEpoch: -1) != nil { return .notLeaderOrFollower }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                // Kafka: the ISR shrank below min.insync.replicas after the append, or time ran out.
                if let inSync = replicas.inSyncReplicaCount(topicPartition), inSync < log.config.minInSyncReplicas {
                    return .notEnoughReplicasAfterAppend
                }
                return .requestTimedOut
            }
            await waiters.wait(for: [topicPartition], timeout: remaining) {
                log.offsets.highWatermark > lastOffset || replicas.leaderError(topicPartition, currentLeaderEpoch: -1) != nil
            }
        }
        // Only a leader sure of its standing acknowledges (not one that just woke past its lease).
        if replicas.leaderError(topicPartition, currentLeaderEpoch: -1) != nil { return .notLeaderOrFollower }
        return .none
    }
}
