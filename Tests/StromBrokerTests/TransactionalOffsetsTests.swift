import KafkaProtocol
import Testing
@testable import StromBroker

/// Offsets committed in a transaction (TxnOffsetCommit): pending, invisible to OffsetFetch, made the
/// group's committed offsets by the COMMIT marker and dropped by ABORT — live and when a
/// coordinator loads `__consumer_offsets` (transactional records, then the marker).
@Suite struct TransactionalOffsetsTests {
    var machine = GroupStateMachine(settings: GroupCoordinatorSettings(), nowMs: 0)

    func commit(_ machine: inout GroupStateMachine, producerId: Int64, offset: Int64) -> (TxnOffsetCommitResponse, GroupEffects) {
        machine.commitTransactionalOffsets(
            TxnOffsetCommitRequest(
                transactionalId: "tx", groupId: "g", producerId: producerId, producerEpoch: 0, generationId: -1, memberId: "",
                topics: [.init(name: "in", partitions: [.init(partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1)])]),
            nowMs: 10, partitionExists: { _, _ in true })
    }

    func committed(_ machine: GroupStateMachine) -> Int64? {
        machine.fetchOffsets(groupId: "g", topics: [("in", [0])]).first?.partitions.first?.1?.offset
    }

    @Test mutating func pendingUntilTheCommitMarkerDroppedByAnAbort() {
        let (response, effects) = commit(&machine, producerId: 7, offset: 42)
        #expect(response.topics.flatMap(\.partitions).map(\.errorCode) == [0])
        #expect(effects.records.count == 1 && effects.transactionalProducer?.producerId == 7, "written in the producer's transactional batch")
        #expect(committed(machine) == nil, "not visible before the transaction commits")
        #expect(machine.unstableOffsets(groupId: "g") == [.init(topic: "in", partition: 0)])
        machine.completeTransaction(producerId: 7, commit: true, nowMs: 20)
        #expect(committed(machine) == 42)
        #expect(machine.unstableOffsets(groupId: "g").isEmpty)
        _ = commit(&machine, producerId: 7, offset: 50)
        machine.completeTransaction(producerId: 7, commit: false, nowMs: 30)
        #expect(committed(machine) == 42, "an aborted transaction commits nothing")
        #expect(machine.unstableOffsets(groupId: "g").isEmpty)
    }

    @Test func loadingKeepsTransactionalRecordsPendingUntilTheirMarker() {
        var writer = GroupStateMachine(settings: GroupCoordinatorSettings(), nowMs: 0)
        let record = commit(&writer, producerId: 7, offset: 42).1.records[0]
        let aborted = commit(&writer, producerId: 8, offset: 99).1.records[0]
        var loaded = GroupStateMachine(settings: GroupCoordinatorSettings(), nowMs: 0)
        loaded.replay(record, nowMs: 0, transactionalProducerId: 7)
        loaded.replay(aborted, nowMs: 0, transactionalProducerId: 8)
        #expect(committed(loaded) == nil)
        loaded.completeTransaction(producerId: 8, commit: false, nowMs: 0)
        #expect(committed(loaded) == nil)
        #expect(loaded.unstableOffsets(groupId: "g") == [.init(topic: "in", partition: 0)], "producer 7's is still open")
        loaded.completeTransaction(producerId: 7, commit: true, nowMs: 0)
        #expect(committed(loaded) == 42)
    }
}
