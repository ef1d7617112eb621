import KafkaProtocol
import Logging
import NIOCore
import StromClient
import StromCluster
import StromStorage

/// A follower's fetch loop towards one leader: every partition this broker follows from that
/// leader in one Fetch (Kafka's replica fetcher thread), from each log's end.
///
/// Each answer is applied partition by partition: a diverging epoch truncates the log to where
/// it and the leader's agree (KIP-320), records are appended as the leader numbered them, and
/// only once they are on this broker's disk does the next fetch ask for more — the leader counts
/// a fetch offset as this replica's durable end, so an acks=all acknowledgement means the records
/// are fsynced on every in-sync replica. The follower's high watermark follows the leader's.
struct ReplicaFetcher: Sendable {
    let leader: Int32
    let nodeId: Int32
    let settings: ClusterSettings
    let replicas: ReplicaManager
    let partitions: any PartitionDirectory
    let groupCommit: GroupCommit
    /// The leader's address as the metadata has it now (nil while it is not registered).
    let address: @Sendable () -> (host: String, port: Int)?
    let logger: Logger

    /// The highest Fetch version this fetcher speaks (diverging epochs from 12, topic ids from 13).
    static let versionMax: Int16 = 16

    /// A connection whose fetch the leader's TCP has not acknowledged for this long is dead (a cut
    /// network): closing it lets the fetcher reconnect as soon as the network is back, well
    /// before this follower would leave the ISR, instead of waiting out TCP's retransmission
    /// backoff. A leader merely slow to answer is not affected (its TCP acknowledges).
    var unacknowledgedTimeMax: Duration {
        .milliseconds(min(10_000, max(1_000, settings.replicaLagTimeMaxMs / 3)))
    }

    func run() async {
        var connection: KafkaClientConnection?
        var backoff = Duration.milliseconds(50)
        var lastFailure: String?
        while !Task.isCancelled {
            let followed = replicas.followed(from: leader)
            guard !followed.isEmpty, let address = address() else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                if connection == nil || connection?.isOpen == false || connection?.host != address.host || connection?.port != address.port {
                    await connection?.close()
                    connection = try await KafkaClientConnection.connect(
                        host: address.host, port: address.port, clientId: "strom-replica-\(nodeId)",
                        requestTimeout: .seconds(30), connectTimeout: .seconds(2), unacknowledgedTimeMax: unacknowledgedTimeMax)
                }
                guard let connection else { continue }
                let progressed = try await fetchOnce(followed, over: connection)
                if lastFailure != nil {
                    logger.info("fetching from leader \(leader) again")
                    lastFailure = nil
                }
                backoff = .milliseconds(50)
                // A partition the leader refused (not its leader yet, an older epoch) waits for the metadata.
                if !progressed { try? await Task.sleep(for: .milliseconds(100)) }
            } catch {
                let failure = "\(error)"
                if lastFailure == nil { logger.warning("fetching from leader \(leader) at \(address.host):\(address.port) failed: \(failure)") }
                lastFailure = failure
                await connection?.close()
                connection = nil
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(1))
            }
        }
        await connection?.close()
    }

    /// One Fetch and its answer. Returns whether every partition was answered without an error.
    private func fetchOnce(_ followed: [(TopicPartition, ReplicaManager.Followed)], over connection: KafkaClientConnection) async throws -> Bool {
        let version = min(try connection.apiVersions.version(for: FetchRequest.self, minimum: 12), Self.versionMax)
        var byTopic: [String: [(ReplicaManager.Followed, TopicPartition)]] = [:]
        for (topicPartition, entry) in followed { byTopic[topicPartition.topic, default: []].append((entry, topicPartition)) }
        var request = FetchRequest(
            maxWaitMs: settings.replicaFetchWaitMaxMs, minBytes: 1, maxBytes: settings.replicaFetchResponseMaxBytes,
            isolationLevel: 0, topics: [])
        if version >= 15 {
            request.replicaState = .init(replicaId: nodeId, replicaEpoch: -1)
        } else {
            request.replicaId = nodeId
        }
        var logsByKey: [String: PartitionLog] = [:]
        for (topic, entries) in byTopic.sorted(by: { $0.key < $1.key }) {
            guard let topicId = partitions.topicId(name: topic) else { continue }
            request.topics.append(.init(topic: topic, topicId: topicId, partitions: entries.map { entry, topicPartition in
                let offsets = entry.log.offsets
                logsByKey[Self.key(topic: topic, topicId: topicId, partition: topicPartition.partition, version: version)] = entry.log
                return .init(
                    partition: topicPartition.partition, currentLeaderEpoch: entry.assignment.leaderEpoch,
                    fetchOffset: offsets.logEndOffset, lastFetchedEpoch: entry.log.epochEntries.last?.epoch ?? -1,
                    logStartOffset: offsets.logStartOffset, partitionMaxBytes: settings.replicaFetchMaxBytes)
            }))
        }
        guard !request.topics.isEmpty else { return false }
        let response = try await connection.send(
            request, version: version, timeout: .milliseconds(Int64(settings.replicaFetchWaitMaxMs)) + .seconds(30))
        guard response.errorCode == 0 else { return false }
        var allAnswered = true
        var appended: [(PartitionLog, Int64, Int64)] = []
        for topic in response.responses {
            for partition in topic.partitions {
                guard let log = logsByKey[Self.key(topic: topic.topic, topicId: topic.topicId, partition: partition.partitionIndex, version: version)] else {
                    continue
                }
                if let outcome = try apply(partition, to: log) {
                    appended.append((log, outcome, partition.highWatermark))
                } else if partition.errorCode != 0 || partition.divergingEpoch.epoch >= 0 {
                    allAnswered = allAnswered && partition.divergingEpoch.epoch >= 0
                } else {
                    log.updateHighWatermark(partition.highWatermark)
                }
            }
        }
        // What this replica tells the leader next is its durable end: sync first (one fsync per
        // log, shared with the broker's other flushes), unless write caching counts written data.
        for (log, lastOffset, leaderHighWatermark) in appended {
            try await groupCommit.waitUntilAcknowledgeable(log, offset: lastOffset)
            log.updateHighWatermark(leaderHighWatermark)
        }
        return allAnswered
    }

    /// How a response names a partition: by topic id from Fetch v13, by name before.
    private static func key(topic: String, topicId: KafkaUUID, partition: Int32, version: Int16) -> String {
        version >= 13 ? "\(topicId)/\(partition)" : "\(topic)/\(partition)"
    }

    /// Applies one partition's answer. Returns the last offset appended, nil when nothing was.
    private func apply(_ partition: FetchResponse.PartitionData, to log: PartitionLog) throws -> Int64? {
        let topicPartition = log.topicPartition
        if partition.divergingEpoch.epoch >= 0 {
            let offsets = log.offsets
            let decision = EpochDivergence.truncation(
                leaderEpoch: partition.divergingEpoch.epoch, leaderEndOffset: partition.divergingEpoch.endOffset,
                followerEntries: log.epochEntries, followerLogEndOffset: offsets.logEndOffset,
                followerHighWatermark: offsets.highWatermark)
            let end = try log.truncate(to: decision.offset, nowMs: Broker.nowMs())
            logger.info("partition \(topicPartition) diverged from leader \(leader) at epoch \(partition.divergingEpoch.epoch) end \(partition.divergingEpoch.endOffset) (log end was \(offsets.logEndOffset), epochs \(log.epochEntries)): truncated to \(end)")
            return nil
        }
        switch KafkaErrorCode(rawValue: partition.errorCode) {
        case .none:
            break
        case .offsetOutOfRange:
            // This replica is ahead of the leader without a diverging epoch to say where: keep what
            // the leader has committed, drop the rest.
            let offsets = log.offsets
            if partition.highWatermark >= 0 && partition.highWatermark < offsets.logEndOffset {
                let end = try log.truncate(to: max(partition.highWatermark, 0), nowMs: Broker.nowMs())
                logger.warning("partition \(topicPartition) was ahead of leader \(leader): truncated to its high watermark \(end)")
            }
            return nil
        default:
            return nil
        }
        guard var records = partition.records, records.readableBytes > 0 else { return nil }
        var lastOffset: Int64?
        while records.readableBytes > 0 {
            // A batch cut by the response size limit ends the partition's data; the next fetch
            // starts at it.
            guard let batch = try? RecordBatch.read(from: &records) else { break }
            try batch.validateHeaderAndChecksum(mode: .stored)
            lastOffset = try log.appendAsFollower(batch, nowMs: Broker.nowMs()) - 1
        }
        return lastOffset
    }
}
