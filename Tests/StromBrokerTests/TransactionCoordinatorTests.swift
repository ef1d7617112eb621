import KafkaProtocol
import StromCluster
import StromStorage
import Synchronization
import Testing
@testable import StromBroker

/// The transaction coordinator's runtime on a simulated disk: it writes markers once the prepare
/// record is stored and parks a producer's next request until they are written (no
/// CONCURRENT_TRANSACTIONS back-off), a new coordinator on the same `__transaction_state` finishes
/// what a dead one left preparing, and an open transaction past its timeout is aborted.
@Suite struct TransactionCoordinatorTests {
    typealias Partition = TransactionMetadata.TopicPartitionName
    let a0 = Partition(topic: "a", partition: 0)
    let b1 = Partition(topic: "b", partition: 1)
    let fileSystem = SimulatedFileSystem()

    /// Leads every partition of the topics it creates, each stored in the shared log manager.
    final class Host: CoordinatorTopicHost {
        let logs: LogManager
        private let counts = Mutex<[String: Int32]>([:])

        init(logs: LogManager) { self.logs = logs }

        func coordinatorTopicPartitionCount(_ topic: String) -> Int32? { counts.withLock { $0[topic] } }
        func createCoordinatorTopic(_ topic: String, partitionCount: Int32) async throws {
            for partition in 0..<partitionCount {
                if logs.log(for: TopicPartition(topic: topic, partition: partition)) == nil {
                    _ = try logs.createLog(TopicPartition(topic: topic, partition: partition), config: .defaults, nowMs: 0)
                }
            }
            counts.withLock { $0[topic] = partitionCount }
        }
        func leadsCoordinatorPartition(_ topic: String, _ partition: Int32) -> Bool { true }
        func awaitDurable(_ log: PartitionLog, lastOffset: Int64) async -> Bool { (try? log.flush()) != nil }
    }

    /// Records the markers it is asked to write; holds every write until released.
    final class Writer: TransactionMarkerWriter {
        private struct State {
            var released = false
            var held: [CheckedContinuation<Void, Never>] = []
            var calls: [CheckedContinuation<Void, Never>] = []
            var written: [TransactionStateMachine.Markers] = []
        }
        private let state = Mutex(State())

        init(released: Bool = false) { state.withLock { $0.released = released } }

        var written: [TransactionStateMachine.Markers] { state.withLock { $0.written } }

        func release() {
            let held = state.withLock { state in
                state.released = true
                defer { state.held = [] }
                return state.held
            }
            for continuation in held { continuation.resume() }
        }

        /// Returns once a write was asked for.
        func waitForCall() async {
            await withCheckedContinuation { continuation in
                let called = state.withLock { state in
                    if !state.written.isEmpty || !state.held.isEmpty { return true }
                    state.calls.append(continuation)
                    return false
                }
                if called { continuation.resume() }
            }
        }

        func write(_ markers: TransactionStateMachine.Markers, coordinatorEpoch: Int32) async -> [Partition: KafkaErrorCode] {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let (go, calls) = state.withLock { state in
                    defer { state.calls = [] }
                    if state.released { return (true, state.calls) }
                    state.held.append(continuation)
                    return (false, state.calls)
                }
                for call in calls { call.resume() }
                if go { continuation.resume() }
            }
            state.withLock { $0.written.append(markers) }
            return Dictionary(uniqueKeysWithValues: markers.partitions.map { ($0, KafkaErrorCode.none) })
        }
    }

    func coordinator(_ host: Host, _ writer: Writer, maxTimeoutMs: Int32 = 900_000) async throws -> TransactionCoordinator {
        var settings = TransactionCoordinatorSettings()
        settings.stateTopicPartitionCount = 3
        settings.maxTimeoutMs = maxTimeoutMs
        let metadata = try EmbeddedMetadataStore(dataDirectory: "/meta", nodeId: 0, fileSystem: fileSystem, configuration: MetadataConfiguration())
        let coordinator = TransactionCoordinator(
            settings: settings, storage: CoordinatorTopicStorage(topic: TransactionCoordinatorSettings.stateTopic, logs: host.logs),
            producerIds: ProducerIdBlock(metadata: metadata), logger: .init(label: "test"), clock: { Broker.nowMs() })
        await coordinator.start(host: host, markerWriter: writer)
        return coordinator
    }

    func host() throws -> Host {
        Host(logs: try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0) { _ in .defaults }.0)
    }

    @Test func aProducersNextRequestWaitsForTheMarkersInsteadOfBeingToldToBackOff() async throws {
        let (host, writer) = (try host(), Writer())
        let coordinator = try await coordinator(host, writer)
        let producer = await coordinator.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil)
        #expect(producer.error == .none)
        #expect(await coordinator.addPartitions(transactionalId: "tx", producerId: producer.producerId, epoch: 0, partitions: [a0]) == .none)
        #expect(await coordinator.endTransaction(transactionalId: "tx", producerId: producer.producerId, epoch: 0, commit: true) == .none)
        async let next = coordinator.addPartitions(transactionalId: "tx", producerId: producer.producerId, epoch: 0, partitions: [b1])
        await writer.waitForCall()
        writer.release()
        #expect(await next == .none, "parked until the markers were written, then added")
        #expect(writer.written.map(\.commit) == [true] && writer.written.first?.partitions == [a0])
        await coordinator.shutdown()
    }

    /// Found by the zombie interop test once requests waited for markers: the fence's records and
    /// markers were dropped while the new instance waited, and its InitProducerId never succeeded.
    @Test func aNewInstanceFencesTheOldOnesOpenTransactionWithinOneRequest() async throws {
        let (host, writer) = (try host(), Writer(released: true))
        let coordinator = try await coordinator(host, writer)
        let old = await coordinator.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil)
        #expect(await coordinator.addPartitions(transactionalId: "tx", producerId: old.producerId, epoch: 0, partitions: [a0]) == .none)
        let new = await coordinator.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil)
        #expect(new.error == .none && new.producerId == old.producerId && new.producerEpoch == 2, "\(new)")
        #expect(writer.written.map(\.commit) == [false] && writer.written.first?.producerEpoch == 1, "the old transaction aborted under epoch 1")
        #expect(await coordinator.addPartitions(transactionalId: "tx", producerId: old.producerId, epoch: 0, partitions: [a0]) == .producerFenced)
        await coordinator.shutdown()
    }

    @Test func aNewCoordinatorFinishesWhatADeadOneLeftPreparing() async throws {
        let host = try host()
        let dead = try await coordinator(host, Writer())
        let producer = await dead.initProducerId(transactionalId: "tx", timeoutMs: 60_000, expected: nil)
        _ = await dead.addPartitions(transactionalId: "tx", producerId: producer.producerId, epoch: 0, partitions: [a0, b1])
        #expect(await dead.endTransaction(transactionalId: "tx", producerId: producer.producerId, epoch: 0, commit: false) == .none)
        await dead.shutdown()  // its markers were never written

        let writer = Writer(released: true)
        let next = try await coordinator(host, writer)
        // The producer's next request waits for the markers the new coordinator writes on load.
        #expect(await next.addPartitions(transactionalId: "tx", producerId: producer.producerId, epoch: 0, partitions: [a0]) == .none)
        #expect(writer.written.map(\.commit) == [false] && writer.written.first?.partitions == [a0, b1])
        await next.shutdown()
    }

    @Test func anOpenTransactionPastItsTimeoutIsAbortedAndItsProducerFenced() async throws {
        let (host, writer) = (try host(), Writer(released: true))
        let coordinator = try await coordinator(host, writer)
        let producer = await coordinator.initProducerId(transactionalId: "tx", timeoutMs: 100, expected: nil)
        #expect(await coordinator.addPartitions(transactionalId: "tx", producerId: producer.producerId, epoch: 0, partitions: [a0]) == .none)
        await writer.waitForCall()
        #expect(writer.written.map(\.commit) == [false])
        #expect(writer.written.first?.producerEpoch == 1, "aborted under a bumped epoch")
        #expect(await coordinator.endTransaction(transactionalId: "tx", producerId: producer.producerId, epoch: 0, commit: true) == .producerFenced)
        await coordinator.shutdown()
    }
}
