import KafkaProtocol
import StromClient
import StromCluster
import StromStorage
import Synchronization

/// The high watermarks, and the times of the records at committed offsets, of partitions this
/// broker holds no replica of, asked of their leaders once a sample: on a cluster a group's
/// coordinator need not hold the partitions the group reads, yet it alone evaluates the group.
/// A high watermark comes from ListOffsets (latest, read_uncommitted); a record's time from a
/// Fetch of one batch at the committed offset, asked again only when that offset changes.
final class RemotePartitionOffsets: Sendable {
    private struct State {
        var highWatermarks: [TopicPartition: Int64] = [:]
        /// The time of the batch holding an offset, by partition and offset.
        var timestamps: [TopicPartition: [Int64: Int64]] = [:]
    }

    private let state = Mutex(State())

    func highWatermark(_ topicPartition: TopicPartition) -> Int64? {
        state.withLock { $0.highWatermarks[topicPartition] }
    }

    func timestamp(_ topicPartition: TopicPartition, at offset: Int64) -> Int64? {
        state.withLock { $0.timestamps[topicPartition]?[offset] }
    }

    /// Asks the leaders of `committed`'s partitions for their high watermarks, and for the time of
    /// each committed offset not known yet that has records after it; forgets every other
    /// partition. A leader that does not answer leaves its partitions' last values (or none).
    ///
    /// - Parameter committed: the offsets groups committed, by partition (none held here).
    func refresh(_ committed: [TopicPartition: Set<Int64>], image: MetadataImage, connections: InterBrokerConnections) async {
        var byLeader: [Int32: [TopicPartition]] = [:]
        for topicPartition in committed.keys {
            guard let topic = image.topic(named: topicPartition.topic), topicPartition.partition < topic.partitionCount else { continue }
            let leader = topic.partitions[Int(topicPartition.partition)].leader
            if leader >= 0 { byLeader[leader, default: []].append(topicPartition) }
        }
        var highWatermarks: [TopicPartition: Int64] = [:]
        var timestamps: [TopicPartition: [Int64: Int64]] = [:]
        let known = state.withLock { $0 }
        for (leader, topicPartitions) in byLeader {
            guard let connection = await connections.connection(to: leader) else { continue }
            do {
                let ends = try await Self.highWatermarks(of: topicPartitions, on: connection)
                highWatermarks.merge(ends) { _, new in new }
                for topicPartition in topicPartitions {
                    guard let end = ends[topicPartition], let topicId = image.topic(named: topicPartition.topic)?.id else { continue }
                    for offset in committed[topicPartition] ?? [] where offset < end {
                        if let time = known.timestamps[topicPartition]?[offset] {
                            timestamps[topicPartition, default: [:]][offset] = time
                        } else if let time = try await Self.batchTimestamp(of: topicPartition, topicId: topicId, at: offset, on: connection) {
                            timestamps[topicPartition, default: [:]][offset] = time
                        }
                    }
                }
            } catch {
                await connections.discard(connection)
            }
        }
        state.withLock { state in
            // A leader that did not answer keeps its partitions' last values.
            for topicPartition in committed.keys where highWatermarks[topicPartition] == nil {
                highWatermarks[topicPartition] = state.highWatermarks[topicPartition]
                timestamps[topicPartition] = state.timestamps[topicPartition]?.filter { committed[topicPartition]?.contains($0.key) == true }
            }
            state = State(highWatermarks: highWatermarks, timestamps: timestamps)
        }
    }

    private static func highWatermarks(
        of topicPartitions: [TopicPartition], on connection: KafkaClientConnection
    ) async throws -> [TopicPartition: Int64] {
        let byTopic = Dictionary(grouping: topicPartitions, by: \.topic)
        let request = ListOffsetsRequest(replicaId: -1, topics: byTopic.map { topic, partitions in
            .init(name: topic, partitions: partitions.map { .init(partitionIndex: $0.partition, timestamp: -1) })
        })
        let response = try await connection.send(request)
        var ends: [TopicPartition: Int64] = [:]
        for topic in response.topics {
            for partition in topic.partitions where partition.errorCode == 0 && partition.offset >= 0 {
                ends[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] = partition.offset
            }
        }
        return ends
    }

    /// The time of the batch holding `offset` as the local log reports it
    /// (``PartitionLog/batchTimestamp(at:)``): its base timestamp, or its max with log-append time.
    private static func batchTimestamp(
        of topicPartition: TopicPartition, topicId: KafkaUUID, at offset: Int64, on connection: KafkaClientConnection
    ) async throws -> Int64? {
        let version = try connection.apiVersions.version(for: FetchRequest.self, minimum: 4)
        // One byte asked: the broker still sends the first batch whole, and nothing after it.
        let request = FetchRequest(
            replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1,
            topics: [.init(topic: topicPartition.topic, topicId: topicId, partitions: [
                .init(partition: topicPartition.partition, fetchOffset: offset, partitionMaxBytes: 1),
            ])])
        let response = try await connection.send(request, version: version)
        guard let records = response.responses.first?.partitions.first(where: { $0.partitionIndex == topicPartition.partition })?.records
        else { return nil }
        var index = records.readerIndex
        while let header = RecordBatchHeader(from: records, at: index) {
            if header.lastOffset >= offset {
                return header.attributes.timestampType == .logAppendTime ? header.maxTimestamp : header.baseTimestamp
            }
            index += header.totalSizeBytes
        }
        return nil
    }
}
