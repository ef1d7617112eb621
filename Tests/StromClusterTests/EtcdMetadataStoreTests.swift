import Foundation
import KafkaProtocol
import Logging
import StromTestSupport
import Testing
@testable import StromCluster

/// The etcd-backed metadata store against a real etcd: two stores stand for two brokers.
@Suite(.serialized) struct EtcdMetadataStoreTests {
    static let logger = Logger(label: "strom.etcd.store.test")

    func open(_ etcd: EtcdTestServer, node: Int32, prefix: String = "/strom", sessionTimeoutMs: Int64 = 9_000) async throws -> EtcdMetadataStore {
        try await EtcdMetadataStore.open(
            client: EtcdClient(endpoints: [etcd.endpoint], logger: Self.logger), keys: EtcdKeyLayout(prefix: prefix), nodeId: node,
            sessionTimeoutMs: sessionTimeoutMs, logger: Self.logger)
    }

    /// Waits (bounded) until `store`'s image satisfies `condition`: the watch is an event we cannot join.
    func eventually(_ store: EtcdMetadataStore, _ condition: @Sendable (MetadataImage) -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition(await store.image()) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func brokersShareOneClusterAndSeeEachOthersWrites() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let first = try await open(etcd, node: 1)
        let second = try await open(etcd, node: 2)
        #expect(first.clusterId == second.clusterId && first.clusterId.count == 22)
        try await first.registerBroker(BrokerRegistration(nodeId: 1, host: "127.0.0.1", port: 9001, rack: "a"))
        try await second.registerBroker(BrokerRegistration(nodeId: 2, host: "127.0.0.1", port: 9002))
        #expect(await eventually(first) { $0.brokers.map(\.nodeId) == [1, 2] })

        // Read-your-writes on the writer; the other broker sees it through its watch.
        let created = try await first.createTopic(name: "orders", partitionCount: 4, replicationFactor: 2, configs: ["retention.ms": "60000"])
        #expect(await first.topic(named: "orders") == created)
        #expect(created.partitions.allSatisfy { Set($0.replicas).count == 2 && $0.inSyncReplicas == $0.replicas && $0.leader == $0.replicas[0] })
        #expect(await eventually(second) { $0.topic(named: "orders") == created })
        await #expect(throws: MetadataError.topicAlreadyExists(name: "orders")) {
            try await second.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        }
        await #expect(throws: MetadataError.self) {
            try await second.createTopic(name: "wide", partitionCount: 1, replicationFactor: 3)
        }

        let grown = try await second.createPartitions(topic: "orders", newTotalCount: 6)
        #expect(grown.partitionCount == 6)
        let altered = try await second.alterTopicConfigs(topic: "orders", set: ["retention.ms": "1000"])
        #expect(await eventually(first) { $0.topic(named: "orders") == altered && altered.partitionCount == 6 })
        _ = try await first.alterBrokerConfigs(resource: "", set: ["log.retention.ms": "5000"], remove: [], validateOnly: false)
        #expect(await eventually(second) { $0.brokerConfigs[""] == ["log.retention.ms": "5000"] })

        try await first.deleteTopic(name: "orders")
        #expect(await eventually(second) { $0.topic(named: "orders") == nil })
        let again = try await second.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        #expect(again.id != created.id, "a topic created again under its old name has a new id")
        await first.close()
        await second.close()
    }

    @Test func topicsLargerThanOneEtcdTransactionAndConcurrentCreators() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let stores = [try await open(etcd, node: 1), try await open(etcd, node: 2)]
        for store in stores {
            try await store.registerBroker(BrokerRegistration(nodeId: store.nodeId, host: "127.0.0.1", port: 9000 + store.nodeId))
        }
        #expect(await eventually(stores[0]) { $0.brokers.count == 2 })
        // 1,000 partitions need 1,001 keys: more than etcd's 128 operations per transaction.
        let big = try await stores[0].createTopic(name: "big", partitionCount: 1_000, replicationFactor: 2)
        #expect(await eventually(stores[1]) { $0.topic(named: "big") == big })
        let grown = try await stores[1].createPartitions(topic: "big", newTotalCount: 1_300)
        #expect(await eventually(stores[0]) { $0.topic(named: "big") == grown })
        // Two brokers create one name at once: exactly one wins, and nothing of the loser remains.
        async let first = try? stores[0].createTopic(name: "race", partitionCount: 300, replicationFactor: 1)
        async let second = try? stores[1].createTopic(name: "race", partitionCount: 300, replicationFactor: 1)
        let winners = [await first, await second].compactMap { $0 }
        #expect(winners.count == 1)
        let partitionKeys = try await stores[0].client.range(stores[0].keys.root + "partitions/", prefix: true).keys
        #expect(partitionKeys.count == 1_300 + 300, "the loser's partition keys were removed")
        #expect(await eventually(stores[1]) { $0.topic(named: "race")?.id == winners.first?.id })
        for store in stores { await store.close() }
    }

    @Test func producerIdBlocksNeverOverlapAcrossBrokers() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let stores = [try await open(etcd, node: 1), try await open(etcd, node: 2), try await open(etcd, node: 3)]
        let blocks = try await withThrowingTaskGroup(of: [Range<Int64>].self) { group in
            for store in stores {
                group.addTask { var taken: [Range<Int64>] = []; for _ in 0..<10 { taken.append(try await store.allocateProducerIds(count: 1000)) }; return taken }
            }
            return try await group.reduce(into: [Range<Int64>]()) { $0 += $1 }
        }
        let sorted = blocks.sorted { $0.lowerBound < $1.lowerBound }
        #expect(sorted.count == 30)
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.upperBound <= $1.lowerBound }, "no id in two blocks")
        for store in stores { await store.close() }
    }

    @Test func partitionChangesCompareWhatTheWriterRead() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let leader = try await open(etcd, node: 1)
        let controller = try await open(etcd, node: 2)
        for store in [leader, controller] {
            try await store.registerBroker(BrokerRegistration(nodeId: store.nodeId, host: "127.0.0.1", port: 9000 + store.nodeId))
        }
        #expect(await eventually(leader) { $0.brokers.count == 2 })
        let topic = try await leader.createTopic(name: "t", partitionCount: 1, replicationFactor: 2)
        #expect(await eventually(controller) { $0.topic(named: "t") != nil })
        let before = topic.partitions[0]
        var shrunk = before
        shrunk.inSyncReplicas = [before.leader]
        shrunk.partitionEpoch += 1
        var elected = before
        elected.leader = before.replicas[1]
        elected.leaderEpoch += 1
        elected.partitionEpoch += 1
        // The controller's election lands first; the leader's ISR change, made from what it read
        // before, is refused and changes nothing (Kafka's AlterPartition rule).
        let election = elected
        #expect(try await controller.alterPartitions([(topic: "t", expected: before, new: election)]) == [true])
        #expect(await eventually(leader) { $0.topic(named: "t")?.partitions[0] == election })
        #expect(try await leader.alterPartitions([(topic: "t", expected: before, new: shrunk)]) == [false])
        #expect(await leader.topic(named: "t")?.partitions[0] == elected)
        await leader.close()
        await controller.close()
    }

    @Test func aClosedBrokerDisappearsAndAnExpiredLeaseRegistersAgain() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let watcher = try await open(etcd, node: 9)
        let broker = try await open(etcd, node: 1, sessionTimeoutMs: 2_000)
        try await broker.registerBroker(BrokerRegistration(nodeId: 1, host: "127.0.0.1", port: 9001))
        #expect(await eventually(watcher) { $0.brokers.map(\.nodeId) == [1] })
        // The cluster declares the broker dead (its lease revoked behind its back); the broker
        // finds its lease gone at the next renewal and registers again.
        let lease = try #require(try await broker.client.range(broker.keys.broker(1)).keys.first?.lease)
        try await broker.client.revokeLease(lease)
        #expect(await eventually(watcher) { $0.brokers.isEmpty })
        #expect(await eventually(watcher) { $0.brokers.map(\.nodeId) == [1] }, "registered again with a new lease")
        await broker.close()
        #expect(await eventually(watcher) { $0.brokers.isEmpty }, "a clean close ends the registration at once")
        await watcher.close()
    }

    /// A broker restarted while its earlier process's registration is still alive waits for that
    /// lease to expire, then registers. The earlier lease here outlives the new broker's session
    /// timeout (a restart under load, or etcd slow to expire it): a lease granted before the wait
    /// would have expired during it, and registering failed with "requested lease not found".
    @Test func aRestartWaitsOutTheEarlierRegistrationWithALeaseOfItsOwn() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let client = EtcdClient(endpoints: [etcd.endpoint], logger: Self.logger)
        let keys = EtcdKeyLayout(prefix: "/strom")
        let watcher = try await open(etcd, node: 9)
        let earlier = try await client.grantLease(ttlSeconds: 3)
        _ = try await client.put(keys.broker(2), Data(#"{"host":"127.0.0.1","port":9001}"#.utf8), lease: earlier)
        let restarted = try await open(etcd, node: 2, sessionTimeoutMs: 2_000)
        try await restarted.registerBroker(BrokerRegistration(nodeId: 2, host: "127.0.0.1", port: 9002))
        let registered = try #require(try await client.range(keys.broker(2)).keys.first)
        #expect(registered.lease != earlier && registered.lease != 0)
        #expect(await eventually(watcher) { $0.brokers.map(\.port) == [9002] })
        await restarted.close()
        await watcher.close()
    }

    @Test func aWatchBehindCompactionReloadsAndMissesNothing() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let writer = try await open(etcd, node: 1)
        try await writer.registerBroker(BrokerRegistration(nodeId: 1, host: "127.0.0.1", port: 9001))
        let reader = try await open(etcd, node: 2)
        let changes = await reader.changes()
        // The reader's watch is down (as across a long network cut) while etcd compacts past what
        // it saw: resuming, it must reload a snapshot.
        await reader.stopWatching()
        for index in 0..<5 { _ = try await writer.createTopic(name: "t\(index)", partitionCount: 1, replicationFactor: 1) }
        let revision = await writer.image().revision
        try await etcd.compact(revision: revision)
        _ = try await writer.createTopic(name: "after", partitionCount: 1, replicationFactor: 1)
        await reader.startWatching()
        #expect(await eventually(reader) { Set($0.topics.map(\.name)) == ["t0", "t1", "t2", "t3", "t4", "after"] })
        var image: MetadataImage?
        for await change in changes {
            if case .snapshot(let snapshot) = change.kind { image = snapshot } else { image?.apply(change) }
            if image?.topic(named: "after") != nil { break }
        }
        #expect(image?.topics.count == 6, "a subscriber applying the changes reaches the same image")
        await writer.close()
        await reader.close()
    }
}
