import KafkaProtocol
import Testing
@testable import StromBroker

/// The transaction coordinator's logic on a fake clock: producer ids and epochs, fencing, the
/// transaction's life (partitions, commit, abort, markers), retries, timeouts and loading.
@Suite struct TransactionStateMachineTests {
    typealias Partition = TransactionMetadata.TopicPartitionName
    let a0 = Partition(topic: "a", partition: 0)
    let b1 = Partition(topic: "b", partition: 1)

    final class Ids {
        var next: Int64 = 100
        func take() -> Int64 { defer { next += 1 }; return next }
    }

    func start(_ machine: inout TransactionStateMachine, _ ids: Ids, id: String = "tx", nowMs: Int64 = 0) -> TransactionStateMachine.InitResult {
        machine.initProducerId(transactionalId: id, timeoutMs: 60_000, expected: nil, nowMs: nowMs, newProducerId: ids.take).0
    }

    @Test func aTransactionCommitsThroughPrepareMarkersAndComplete() {
        var machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        let ids = Ids()
        let producer = start(&machine, ids)
        #expect(producer == .init(producerId: 100, producerEpoch: 0))
        let (added, addEffects) = machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0, b1], nowMs: 10)
        #expect(added == .none && addEffects.records.map(\.value.transactionStatus) == [TransactionMetadata.State.ongoing.rawValue])
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0], nowMs: 11).1.records.isEmpty,
                "partitions already in the transaction are not written again")
        let (ended, endEffects) = machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: true, nowMs: 20)
        #expect(ended == .none)
        let markers = try! #require(endEffects.markers.first)
        #expect(markers.commit && markers.partitions == [a0, b1] && markers.producerEpoch == 0)
        // While the markers are written the producer waits.
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0], nowMs: 21).0 == .concurrentTransactions)
        #expect(machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: true, nowMs: 21).0 == .concurrentTransactions)
        #expect(machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: false, nowMs: 21).0 == .invalidTxnState)
        let completed = machine.markersWritten(markers, nowMs: 30)
        #expect(completed.records.map(\.value.transactionStatus) == [TransactionMetadata.State.completeCommit.rawValue])
        #expect(machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: true, nowMs: 31).0 == .none, "a retried commit succeeds")
        // The next transaction begins from CompleteCommit.
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [b1], nowMs: 40).0 == .none)
        #expect(machine.transactions["tx"]?.partitions == [b1] && machine.transactions["tx"]?.transactionStartMs == 40)
    }

    /// KIP-890: a partition leader asks before appending a producer's first transactional batch.
    @Test func verificationAnswersAsKafkasCoordinatorDoes() {
        var machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        let ids = Ids()
        _ = start(&machine, ids)
        #expect(machine.verify(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0]) == [a0: .transactionAbortable],
                "no transaction open: a batch now would hang")
        _ = machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0], nowMs: 1)
        #expect(machine.verify(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0, b1]) == [a0: .none, b1: .transactionAbortable])
        #expect(machine.verify(transactionalId: "tx", producerId: 999, epoch: 0, partitions: [a0]) == [a0: .invalidProducerIdMapping])
        #expect(machine.verify(transactionalId: "other", producerId: 100, epoch: 0, partitions: [a0]) == [a0: .invalidProducerIdMapping])
        _ = machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: true, nowMs: 2)
        #expect(machine.verify(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0]) == [a0: .concurrentTransactions])
    }

    @Test func aNewInstanceFencesTheOldOneAndAbortsItsTransaction() {
        var machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        let ids = Ids()
        _ = start(&machine, ids)
        _ = machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0], nowMs: 10)
        // The new instance: the open transaction is aborted under epoch 1 first.
        let (busy, fence) = machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil, nowMs: 20, newProducerId: ids.take)
        #expect(busy.error == .concurrentTransactions)
        let abort = try! #require(fence.markers.first)
        #expect(!abort.commit && abort.producerEpoch == 1 && abort.partitions == [a0])
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [b1], nowMs: 21).0 == .producerFenced,
                "the old instance is fenced at once")
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 1, partitions: [b1], nowMs: 21).0 == .concurrentTransactions,
                "while the abort's markers are written")
        _ = machine.markersWritten(abort, nowMs: 30)
        let (retried, _) = machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil, nowMs: 31, newProducerId: ids.take)
        #expect(retried == .init(producerId: 100, producerEpoch: 2))
        // The zombie is fenced everywhere.
        #expect(machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [b1], nowMs: 40).0 == .producerFenced)
        #expect(machine.endTransaction(transactionalId: "tx", producerId: 100, epoch: 1, commit: true, nowMs: 40).0 == .producerFenced)
        #expect(machine.endTransaction(transactionalId: "tx", producerId: 99, epoch: 2, commit: true, nowMs: 40).0 == .invalidProducerIdMapping)
    }

    @Test func anExhaustedEpochTakesANewProducerIdAndKip360RecoveryIsRecognised() {
        var machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        let ids = Ids()
        _ = start(&machine, ids)
        var metadata = machine.transactions["tx"]!
        metadata.producerEpoch = TransactionMetadata.epochMax
        machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        machine.replay(key: metadata.key, value: metadata.value)
        let (renewed, _) = machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil, nowMs: 1, newProducerId: ids.take)
        #expect(renewed == .init(producerId: 101, producerEpoch: 0))
        // The producer of id 101 epoch 0 recovers: epoch 1. Asking again with what it had (the answer was lost): the same answer.
        let recovered = machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: (101, 0), nowMs: 2, newProducerId: ids.take).0
        #expect(recovered == .init(producerId: 101, producerEpoch: 1))
        let again = machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: (101, 0), nowMs: 3, newProducerId: ids.take).0
        #expect(again == .init(producerId: 101, producerEpoch: 1))
        #expect(machine.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: (55, 3), nowMs: 4, newProducerId: ids.take).0.error == .producerFenced)
        #expect(machine.initProducerId(transactionalId: "tx", timeoutMs: 1_000_000, expected: nil, nowMs: 5, newProducerId: ids.take).0.error
            == .invalidTransactionTimeout)
    }

    @Test func anExpiredTransactionIsAbortedAndALoadedCoordinatorFinishesWhatWasPrepared() {
        var machine = TransactionStateMachine(maxTimeoutMs: 900_000)
        let ids = Ids()
        var log: [(TransactionLogKey, TransactionLogValue)] = []
        log += machine.initProducerId(transactionalId: "tx", timeoutMs: 5_000, expected: nil, nowMs: 0, newProducerId: ids.take).1.records.map { ($0.key, $0.value) }
        log += machine.addPartitions(transactionalId: "tx", producerId: 100, epoch: 0, partitions: [a0], nowMs: 1_000).1.records.map { ($0.key, $0.value) }
        #expect(machine.nextDeadlineMs == 6_000)
        #expect(machine.expire(nowMs: 5_999, newProducerId: ids.take).records.isEmpty)
        let expired = machine.expire(nowMs: 6_000, newProducerId: ids.take)
        #expect(expired.markers.map(\.commit) == [false] && expired.markers.first?.producerEpoch == 1)
        log += expired.records.map { ($0.key, $0.value) }
        // The coordinator dies before the markers are written: the next one loads the log and writes them.
        var loaded = TransactionStateMachine(maxTimeoutMs: 900_000)
        for (key, value) in log { loaded.replay(key: key, value: value) }
        #expect(loaded.pendingMarkers == expired.markers)
        #expect(loaded.markersWritten(expired.markers[0], nowMs: 7_000).records.count == 1)
        #expect(loaded.transactions["tx"]?.state == .completeAbort && loaded.pendingMarkers.isEmpty)
        #expect(loaded.endTransaction(transactionalId: "tx", producerId: 100, epoch: 0, commit: true, nowMs: 8_000).0 == .producerFenced,
                "the timed-out producer learns it was fenced")
    }
}
