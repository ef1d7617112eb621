import Foundation
public import KafkaProtocol
import NIOCore

extension KafkaClient {
    /// Writes records to a topic: one batch per partition, one Produce request per leader, the
    /// leaders in parallel.
    ///
    /// Records without a partition go where ``ProducerRecord/partition`` says: murmur2 of the key,
    /// or, for records without a key, one partition picked at random for the whole call (Kafka's
    /// sticky partitioning, so a call makes one batch). A missing topic is created when the
    /// broker's `auto.create.topics.enable` allows it, as with Kafka's producers.
    ///
    /// - Parameters:
    ///   - acks: what the leader waits for before answering; ``ProduceAcks/unacknowledged`` returns once written.
    ///   - compression: the batches' codec.
    ///   - timeoutMs: how long the broker may wait for acknowledgements (acks=all).
    /// - Returns: one entry per partition written, sorted by partition; a partition's failure
    ///   carries the broker's error code (NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE, ...).
    /// - Throws: when nothing can be written: no records, an unknown topic, an unsupported Produce version.
    public func produce(
        topic: String, records: [ProducerRecord], acks: ProduceAcks = .all, compression: CompressionCodec = .none,
        timeoutMs: Int32 = 30_000
    ) async throws(StromClientError) -> [ProducedPartition] {
        guard !records.isEmpty else { throw .invalidArgument("no records to produce to topic \"\(topic)\"") }
        let description = try await topicDescription(topic, allowAutoTopicCreation: true)
        let partitionCount = Int32(description.partitions.count)
        guard partitionCount > 0 else {
            throw .kafka(.leaderNotAvailable, resource: "topic \"\(topic)\"", message: "the topic has no partitions yet")
        }
        let batches = try buildBatches(records, partitionCount: partitionCount, compression: compression)
        let (byLeader, unroutable) = await partitionsByLeader(topic: description, partitions: batches.keys.sorted())
        var results = unroutable.map { partition, error in
            ProducedPartition(partition: partition, recordCount: batches[partition]?.recordCount ?? 0, baseOffset: .failure(error))
        }
        await withTaskGroup(of: [ProducedPartition].self) { group in
            for (connection, partitions) in byLeader {
                let partitionBatches = partitions.compactMap { partition in batches[partition].map { (partition: partition, batch: $0) } }
                group.addTask {
                    await Self.produce(
                        topic: topic, batches: partitionBatches, acks: acks, timeoutMs: timeoutMs, on: connection)
                }
            }
            for await leaderResults in group { results += leaderResults }
        }
        for result in results {
            if case .failure(let error) = result.baseOffset { forgetTopic(topic, after: error) }
        }
        return results.sorted { $0.partition < $1.partition }
    }

    /// One partition's batch, built and counted.
    private struct PartitionBatch: Sendable {
        var bytes: ByteBuffer
        var recordCount: Int
    }

    private func buildBatches(
        _ records: [ProducerRecord], partitionCount: Int32, compression: CompressionCodec
    ) throws(StromClientError) -> [Int32: PartitionBatch] {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1_000)
        let stickyPartition = Int32.random(in: 0..<partitionCount)
        var builders: [Int32: RecordBatchBuilder] = [:]
        for record in records {
            let partition = record.partition
                ?? record.key.map { KeyPartitioner.partition(forKey: $0, partitionCount: partitionCount) }
                ?? stickyPartition
            builders[partition, default: RecordBatchBuilder(compressionCodec: compression)].append(
                timestampMs: record.timestampMs ?? nowMs, key: record.key, value: record.value, headers: record.headers)
        }
        var batches: [Int32: PartitionBatch] = [:]
        for (partition, builder) in builders {
            do {
                batches[partition] = PartitionBatch(bytes: try builder.build(), recordCount: builder.count)
            } catch {
                throw .invalidArgument("cannot build the batch for partition \(partition): \(error)")
            }
        }
        return batches
    }

    /// One Produce request to one leader; every outcome, errors included, lands in the results.
    private static func produce(
        topic: String, batches: [(partition: Int32, batch: PartitionBatch)], acks: ProduceAcks, timeoutMs: Int32,
        on connection: KafkaClientConnection
    ) async -> [ProducedPartition] {
        func all(_ result: Result<Int64, StromClientError>) -> [ProducedPartition] {
            batches.map { ProducedPartition(partition: $0.partition, recordCount: $0.batch.recordCount, baseOffset: result) }
        }
        let request = ProduceRequest(
            acks: acks.rawValue, timeoutMs: timeoutMs,
            topicData: [.init(name: topic, partitionData: batches.map { .init(index: $0.partition, records: $0.batch.bytes) })])
        do {
            // v3 is the first version that carries v2 record batches.
            let version = try connection.apiVersions.version(for: ProduceRequest.self, minimum: 3)
            if acks == .unacknowledged {
                try await connection.sendWithoutResponse(request, version: version)
                return all(.success(-1))
            }
            let response = try await connection.send(
                request, version: version, timeout: connection.requestTimeout + .milliseconds(timeoutMs))
            let answers = response.responses.filter { $0.name == topic }.flatMap(\.partitionResponses)
            return batches.map { partition, batch in
                let result: Result<Int64, StromClientError>
                if let answer = answers.first(where: { $0.index == partition }) {
                    let resource = "topic \"\(topic)\" partition \(partition)"
                    let message = answer.errorMessage ?? answer.recordErrors.first?.batchIndexErrorMessage
                    if let error = StromClientError.check(answer.errorCode, resource: resource, message: message) {
                        result = .failure(error)
                    } else {
                        result = .success(answer.baseOffset)
                    }
                } else {
                    result = .failure(.malformedResponse(.produce, reason: "no answer for topic \"\(topic)\" partition \(partition)"))
                }
                return ProducedPartition(partition: partition, recordCount: batch.recordCount, baseOffset: result)
            }
        } catch {
            return all(.failure(error))
        }
    }
}
