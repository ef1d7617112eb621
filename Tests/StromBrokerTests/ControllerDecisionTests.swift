import KafkaProtocol
import StromCluster
import Testing
@testable import StromBroker

/// The controller's decisions as a function of the metadata: which partitions change when brokers
/// go and come back (no etcd, no sockets).
@Suite struct ControllerDecisionTests {
    func image(brokers: [Int32], partitions: [PartitionAssignment], configs: [String: String] = [:]) -> MetadataImage {
        MetadataImage(
            clusterId: "c", controllerId: 1, revision: 10,
            brokers: brokers.map { BrokerRegistration(nodeId: $0, host: "127.0.0.1", port: 9000 + $0) },
            topics: [TopicMetadata(name: "t", id: KafkaUUID(high: 1, low: 2), partitions: partitions, configs: configs, isInternal: false)])
    }

    func partition(_ index: Int32, replicas: [Int32], leader: Int32, isr: [Int32], epoch: Int32 = 0) -> PartitionAssignment {
        PartitionAssignment(partition: index, replicas: replicas, leader: leader, leaderEpoch: epoch, inSyncReplicas: isr, partitionEpoch: epoch)
    }

    @Test func aDeadLeadersPartitionsMoveToInSyncReplicasAndItLeavesEveryISR() {
        let before = [
            partition(0, replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3]),
            partition(1, replicas: [2, 3, 1], leader: 2, isr: [2, 3, 1]),
            partition(2, replicas: [3, 1, 2], leader: 3, isr: [3, 2]),
        ]
        let decisions = ControllerRuntime.decide(image(brokers: [2, 3], partitions: before))
        let byPartition = Dictionary(uniqueKeysWithValues: decisions.map { ($0.change.new.partition, $0.change.new) })
        #expect(byPartition[0]?.leader == 2 && byPartition[0]?.inSyncReplicas == [2, 3] && byPartition[0]?.leaderEpoch == 1)
        #expect(byPartition[1]?.leader == 2 && byPartition[1]?.inSyncReplicas == [2, 3] && byPartition[1]?.leaderEpoch == 0,
                "a follower's death shrinks the ISR without a new leader epoch")
        #expect(byPartition[2] == nil, "broker 1 was in no ISR of partition 2 and led nothing there")
        #expect(decisions.allSatisfy { !$0.isUnclean && $0.change.new.partitionEpoch == $0.change.expected.partitionEpoch + 1 })
        // Deciding again from the result changes nothing: every step is idempotent.
        let after = before.map { byPartition[$0.partition] ?? $0 }
        #expect(ControllerRuntime.decide(image(brokers: [2, 3], partitions: after)).isEmpty)
    }

    @Test func partitionsThatNeedALeaderAreDecidedBeforeThoseThatOnlyShrinkTheirISR() {
        // Broker 3 died: it led partitions 1 and 3 and followed in 0 and 2.
        let before = (0..<4).map { index in
            partition(Int32(index), replicas: [1, 2, 3], leader: index % 2 == 1 ? 3 : 1, isr: [1, 2, 3])
        }
        let decisions = ControllerRuntime.decide(image(brokers: [1, 2], partitions: before))
        #expect(decisions.map(\.change.new.partition) == [1, 3, 0, 2])
        #expect(decisions.prefix(2).allSatisfy { $0.change.new.leader == 1 } && decisions.suffix(2).allSatisfy { $0.change.new.leader == 1 })
    }

    @Test func theLastInSyncReplicaWaitsForItsBrokerUnlessUncleanElectionIsOn() {
        let lonely = [partition(0, replicas: [1, 2], leader: 1, isr: [1])]
        let clean = ControllerRuntime.decide(image(brokers: [2], partitions: lonely))
        #expect(clean.count == 1 && clean[0].change.new.leader == -1 && clean[0].change.new.inSyncReplicas == [1])
        let leaderless = [clean[0].change.new]
        #expect(ControllerRuntime.decide(image(brokers: [2], partitions: leaderless)).isEmpty, "no in-sync replica is live")
        let back = ControllerRuntime.decide(image(brokers: [1, 2], partitions: leaderless))
        #expect(back.count == 1 && back[0].change.new.leader == 1 && !back[0].isUnclean)

        let unclean = ControllerRuntime.decide(image(brokers: [2], partitions: lonely, configs: ["unclean.leader.election.enable": "true"]))
        #expect(unclean.count == 1 && unclean[0].change.new.leader == 2 && unclean[0].change.new.inSyncReplicas == [2] && unclean[0].isUnclean)
    }
}
