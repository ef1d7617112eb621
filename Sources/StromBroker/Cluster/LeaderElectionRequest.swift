import KafkaProtocol
import StromCluster

/// ElectLeaders (API 43): what an administrator's election asks of each partition, decided from
/// the metadata alone (pure: tested without a cluster), with Kafka's error for each refusal.
enum LeaderElectionRequest {
    enum Kind: Int8 {
        /// The first replica leads again, if it is alive and in sync (`kafka-leader-election --election-type PREFERRED`).
        case preferred = 0
        /// A partition without a live leader gets one, from outside the ISR if need be.
        case unclean = 1
    }

    enum Outcome: Hashable {
        case change(PartitionDecision)
        /// The partition is answered with this error.
        case refused(KafkaErrorCode)
    }

    /// The change to write for one partition, or the error that partition is answered with.
    static func decide(_ kind: Kind, for assignment: PartitionAssignment, liveBrokers: Set<Int32>) -> Outcome {
        switch kind {
        case .preferred:
            if assignment.replicas.first == assignment.leader, liveBrokers.contains(assignment.leader) { return .refused(.electionNotNeeded) }
            guard let decision = PartitionElection.preferredLeader(in: assignment, liveBrokers: liveBrokers) else {
                return .refused(.preferredLeaderNotAvailable)
            }
            return .change(decision)
        case .unclean:
            if liveBrokers.contains(assignment.leader) { return .refused(.electionNotNeeded) }
            guard let decision = PartitionElection.electLeader(in: assignment, liveBrokers: liveBrokers, unclean: true),
                  decision.assignment.leader >= 0
            else { return .refused(.eligibleLeadersNotAvailable) }
            return .change(decision)
        }
    }
}
