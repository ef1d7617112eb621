import Foundation
import KafkaProtocol
import NIOCore
import StromStorage

/// WriteTxnMarkers, on the leaders of a transaction's partitions: appends a COMMIT or ABORT
/// control batch to each partition and answers once it is as durable as an acks=all produce; a
/// marker in `__consumer_offsets` also makes the producer's transactional offsets visible (commit)
/// or drops them (abort). The local transaction coordinator calls ``write(_:coordinatorEpoch:)``
/// directly for partitions this broker leads.
struct WriteTxnMarkersHandler: Sendable {
    let broker: Broker

    func handle(_ request: WriteTxnMarkersRequest) async -> WriteTxnMarkersResponse {
        var response = WriteTxnMarkersResponse()
        for marker in request.markers {
            let markers = TransactionStateMachine.Markers(
                transactionalId: "", producerId: marker.producerId, producerEpoch: marker.producerEpoch, commit: marker.transactionResult,
                partitions: marker.topics.flatMap { topic in topic.partitionIndexes.map { .init(topic: topic.name, partition: $0) } })
            let codes = await write(markers, coordinatorEpoch: marker.coordinatorEpoch)
            response.markers.append(.init(producerId: marker.producerId, topics: marker.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitionIndexes.map { partition in
                    .init(partitionIndex: partition, errorCode: (codes[.init(topic: topic.name, partition: partition)] ?? .unknownServerError).rawValue)
                })
            }))
        }
        return response
    }

    /// Writes the markers to the partitions this broker leads; the code per partition.
    func write(_ markers: TransactionStateMachine.Markers, coordinatorEpoch: Int32) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        var codes: [TransactionMetadata.TopicPartitionName: KafkaErrorCode] = [:]
        var appended: [(TransactionMetadata.TopicPartitionName, PartitionLog, Int64)] = []
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        for partition in markers.partitions {
            let topicPartition = TopicPartition(topic: partition.topic, partition: partition.partition)
            guard let log = broker.partitions.log(topic: partition.topic, partition: partition.partition) else {
                let elsewhere = broker.partitions.partitionExists(topic: partition.topic, partition: partition.partition)
                codes[partition] = elsewhere ? .notLeaderOrFollower : .unknownTopicOrPartition
                continue
            }
            if let replicas = broker.replicas, let error = replicas.leaderError(topicPartition, currentLeaderEpoch: -1) {
                codes[partition] = error
                continue
            }
            do {
                var bytes = try RecordBatchBuilder.endTransactionMarker(
                    markers.commit ? .commit : .abort, producerId: markers.producerId, producerEpoch: markers.producerEpoch,
                    coordinatorEpoch: coordinatorEpoch, timestampMs: nowMs).build()
                let info = try log.append(try RecordBatch.read(from: &bytes), nowMs: nowMs)
                appended.append((partition, log, info.lastOffset))
            } catch let error as LogAppendError {
                codes[partition] = error.kafkaErrorCode
            } catch {
                codes[partition] = .unknownServerError
            }
        }
        // Every partition's wait at once: their flushes (and replication) overlap.
        let durable = await withTaskGroup(of: (TransactionMetadata.TopicPartitionName, Bool).self) { group in
            for (partition, log, lastOffset) in appended {
                group.addTask { [broker] in (partition, await broker.awaitDurable(log, lastOffset: lastOffset)) }
            }
            var durable: [TransactionMetadata.TopicPartitionName: Bool] = [:]
            for await (partition, done) in group { durable[partition] = done }
            return durable
        }
        for (partition, _, _) in appended {
            guard durable[partition] == true else {
                codes[partition] = .notEnoughReplicas
                continue
            }
            codes[partition] = KafkaErrorCode.none
            if partition.topic == GroupCoordinatorSettings.offsetsTopic {
                await broker.groupCoordinator.completeTransaction(
                    partition: partition.partition, producerId: markers.producerId, commit: markers.commit)
            }
        }
        return codes
    }
}
