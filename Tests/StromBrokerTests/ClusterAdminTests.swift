import KafkaProtocol
import NIOCore
import StromCluster
import StromStorage
import Testing
@testable import StromBroker

/// What an administrator's election decides per partition (ElectLeaders), and the leader hints
/// (KIP-951) a refused Produce or Fetch carries — pure, no etcd, no sockets.
@Suite struct ClusterAdminTests {
    func partition(replicas: [Int32], leader: Int32, isr: [Int32]) -> PartitionAssignment {
        PartitionAssignment(partition: 0, replicas: replicas, leader: leader, leaderEpoch: 4, inSyncReplicas: isr, partitionEpoch: 7)
    }

    @Test func aPreferredElectionMovesLeadershipBackToTheFirstReplicaOnlyWhenItIsInSync() {
        let moved = partition(replicas: [1, 2, 3], leader: 2, isr: [2, 3, 1])
        guard case .change(let decision) = LeaderElectionRequest.decide(.preferred, for: moved, liveBrokers: [1, 2, 3]) else {
            Issue.record("no election")
            return
        }
        #expect(decision.assignment.leader == 1 && decision.assignment.leaderEpoch == 5 && decision.assignment.partitionEpoch == 8)
        #expect(decision.assignment.inSyncReplicas == [2, 3, 1] && !decision.isUnclean)

        let home = partition(replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3])
        #expect(LeaderElectionRequest.decide(.preferred, for: home, liveBrokers: [1, 2, 3]) == .refused(.electionNotNeeded))
        let behind = partition(replicas: [1, 2, 3], leader: 2, isr: [2, 3])
        #expect(LeaderElectionRequest.decide(.preferred, for: behind, liveBrokers: [1, 2, 3]) == .refused(.preferredLeaderNotAvailable))
        #expect(LeaderElectionRequest.decide(.preferred, for: moved, liveBrokers: [2, 3]) == .refused(.preferredLeaderNotAvailable))
    }

    @Test func anUncleanElectionGivesALeaderlessPartitionAnOutOfSyncReplica() {
        // The only in-sync replica (1) is gone; 2 is alive but behind.
        let leaderless = partition(replicas: [1, 2, 3], leader: -1, isr: [1])
        guard case .change(let decision) = LeaderElectionRequest.decide(.unclean, for: leaderless, liveBrokers: [2]) else {
            Issue.record("no election")
            return
        }
        #expect(decision.assignment.leader == 2 && decision.assignment.inSyncReplicas == [2] && decision.isUnclean)
        #expect(LeaderElectionRequest.decide(.unclean, for: leaderless, liveBrokers: [4]) == .refused(.eligibleLeadersNotAvailable))
        let led = partition(replicas: [1, 2, 3], leader: 3, isr: [3])
        #expect(LeaderElectionRequest.decide(.unclean, for: led, liveBrokers: [2, 3]) == .refused(.electionNotNeeded))
    }

    /// Knows partition orders-0 is led by broker 2 at epoch 9; orders-1 has no leader.
    struct HintingPartitions: PartitionDirectory {
        func log(topic: String, partition: Int32) -> PartitionLog? { nil }
        func topicName(id: KafkaUUID) -> String? { id == KafkaUUID(high: 1, low: 1) ? "orders" : nil }
        func topicId(name: String) -> KafkaUUID? { name == "orders" ? KafkaUUID(high: 1, low: 1) : nil }
        func partitionExists(topic: String, partition: Int32) -> Bool { topic == "orders" && (0...1).contains(partition) }
        func currentLeader(topic: String, partition: Int32) -> LeaderEndpoint? {
            topic == "orders" && partition == 0 ? LeaderEndpoint(nodeId: 2, leaderEpoch: 9, host: "broker-2", port: 9092, rack: "r2") : nil
        }
    }

    @Test func aRefusedProduceNamesTheLeaderAndItsEndpointFromVersion10() {
        let refused = ProduceResponse(responses: [.init(name: "orders", partitionResponses: [
            .init(index: 0, errorCode: KafkaErrorCode.notLeaderOrFollower.rawValue),
            .init(index: 1, errorCode: KafkaErrorCode.notLeaderOrFollower.rawValue),
        ])])
        var hinted = refused
        LeaderHints.add(to: &hinted, version: 10, partitions: HintingPartitions())
        #expect(hinted.responses[0].partitionResponses[0].currentLeader == .init(leaderId: 2, leaderEpoch: 9))
        #expect(hinted.responses[0].partitionResponses[1].currentLeader == .init(), "no leader known: no hint")
        #expect(hinted.nodeEndpoints == [.init(nodeId: 2, host: "broker-2", port: 9092, rack: "r2")])
        var old = refused
        LeaderHints.add(to: &old, version: 9, partitions: HintingPartitions())
        #expect(old == refused, "v9 has no fields for hints")
        // The hinted response encodes at v10 and decodes to the same hints.
        var buffer = ByteBuffer()
        #expect(throws: Never.self) { try hinted.write(into: &buffer, version: 10) }
        #expect((try? ProduceResponse(from: &buffer, version: 10)) == hinted)
    }

    @Test func aRefusedFetchNamesTheLeaderFromVersion12AndItsEndpointFromVersion16() {
        let refused = FetchResponse(responses: [.init(topicId: KafkaUUID(high: 1, low: 1), partitions: [
            .init(partitionIndex: 0, errorCode: KafkaErrorCode.fencedLeaderEpoch.rawValue),
            .init(partitionIndex: 1, errorCode: KafkaErrorCode.none.rawValue),
        ])])
        var hinted = refused
        LeaderHints.add(to: &hinted, version: 16, partitions: HintingPartitions())
        #expect(hinted.responses[0].partitions[0].currentLeader == .init(leaderId: 2, leaderEpoch: 9))
        #expect(hinted.responses[0].partitions[1].currentLeader == .init(), "a partition answered without error gets no hint")
        #expect(hinted.nodeEndpoints.map(\.nodeId) == [2])
        var v12 = FetchResponse(responses: [.init(topic: "orders", partitions: refused.responses[0].partitions)])
        LeaderHints.add(to: &v12, version: 12, partitions: HintingPartitions())
        #expect(v12.responses[0].partitions[0].currentLeader.leaderId == 2 && v12.nodeEndpoints.isEmpty)
    }
}
