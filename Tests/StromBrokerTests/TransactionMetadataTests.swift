import KafkaProtocol
import NIOCore
import Testing
@testable import StromBroker

/// A transactional id's state at its coordinator: Kafka's legal transitions (and only those), the
/// timeout, and the TransactionLog record it is stored as and loaded from.
@Suite struct TransactionMetadataTests {
    typealias State = TransactionMetadata.State

    func metadata(_ state: State = .empty) -> TransactionMetadata {
        var metadata = TransactionMetadata(transactionalId: "tx", producerId: 7, producerEpoch: 0, transactionTimeoutMs: 60_000, nowMs: 0)
        metadata.state = state
        return metadata
    }

    @Test func onlyKafkasTransitionsAreAllowed() {
        let allowed: [State: Set<State>] = [
            .empty: [.ongoing, .dead, .empty],
            .ongoing: [.ongoing, .prepareCommit, .prepareAbort, .prepareEpochFence],
            .prepareCommit: [.completeCommit],
            .prepareAbort: [.completeAbort],
            .completeCommit: [.empty, .ongoing, .dead],
            .completeAbort: [.empty, .ongoing, .dead],
            .dead: [],
            .prepareEpochFence: [.prepareAbort],
        ]
        for from in State.allCases {
            for to in State.allCases {
                var subject = metadata(from)
                let moved = (try? subject.transition(to: to, nowMs: 5)) != nil
                #expect(moved == allowed[from]!.contains(to), "\(from.name) -> \(to.name)")
            }
        }
    }

    @Test func aTransactionStartsWhenItFirstGoesOngoingAndExpiresAfterItsTimeout() throws {
        var subject = metadata()
        subject.partitions = [.init(topic: "a", partition: 0)]
        try subject.transition(to: .ongoing, nowMs: 1_000)
        try subject.transition(to: .ongoing, nowMs: 2_000)
        #expect(subject.transactionStartMs == 1_000 && subject.lastUpdateMs == 2_000)
        #expect(!subject.hasExpired(nowMs: 60_999) && subject.hasExpired(nowMs: 61_000))
        try subject.transition(to: .prepareCommit, nowMs: 3_000)
        #expect(subject.partitions.count == 1, "the prepare record names the partitions the markers go to")
        #expect(!subject.hasExpired(nowMs: 100_000), "only an ongoing transaction expires")
        try subject.transition(to: .completeCommit, nowMs: 4_000)
        #expect(subject.partitions.isEmpty)
    }

    @Test func recordsOfTransactionStateRoundTripThroughTheirBytes() throws {
        var subject = metadata()
        subject.partitions = [.init(topic: "a", partition: 3)]
        try subject.transition(to: .ongoing, nowMs: 10)
        for record in [TransactionLogRecord(key: subject.key, value: subject.value), TransactionLogRecord(key: subject.key, value: nil)] {
            let (key, value) = try record.encoded()
            #expect(key.getInteger(at: key.readerIndex, as: Int16.self) == 0, "key version 0")
            #expect(try TransactionLogRecord.decode(key: key, value: value) == record)
        }
        var unknownVersion = ByteBuffer()
        unknownVersion.writeInteger(Int16(9))
        #expect(throws: (any Error).self) { try TransactionLogRecord.decode(key: unknownVersion, value: nil) }
    }

    @Test func theLogRecordRoundTrips() throws {
        var subject = metadata()
        subject.partitions = [.init(topic: "b", partition: 2), .init(topic: "a", partition: 1), .init(topic: "a", partition: 0)]
        try subject.transition(to: .ongoing, nowMs: 10)
        let value = subject.value
        #expect(value.transactionPartitions?.map(\.topic) == ["a", "b"] && value.transactionPartitions?.first?.partitionIds == [0, 1])
        var bytes = ByteBuffer()
        try value.write(into: &bytes, version: 0)
        let decoded = try TransactionLogValue(from: &bytes, version: 0)
        #expect(TransactionMetadata(transactionalId: "tx", value: decoded) == subject)
        var unknown = value
        unknown.transactionStatus = 42
        #expect(TransactionMetadata(transactionalId: "tx", value: unknown) == nil)
    }
}
