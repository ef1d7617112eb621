import KafkaProtocol
import Testing
@testable import StromBroker

/// Kafka's checks of an explicit replica assignment, without a broker.
@Suite struct ReplicaAssignmentCheckTests {
    let registered: Set<Int32> = [1, 2, 3]

    @Test func aValidAssignmentPasses() {
        #expect(ReplicaAssignmentCheck.check([(0, [1, 2]), (1, [2, 3]), (2, [3, 1])], registered: registered) == nil)
        #expect(ReplicaAssignmentCheck.check([(4, [1]), (5, [2])], registered: registered, firstPartition: 4) == nil, "new partitions after 4")
    }

    @Test func eachKafkaRuleRefusesWithItsReason() {
        func message(_ assignments: [(partition: Int32, brokers: [Int32])], first: Int32 = 0) -> String? {
            let problem = ReplicaAssignmentCheck.check(assignments, registered: registered, firstPartition: first)
            #expect(problem == nil || problem?.code == .invalidReplicaAssignment)
            return problem?.message
        }
        #expect(message([(0, [1]), (0, [2])]) == "a partition is assigned more than once")
        #expect(message([(0, [1]), (2, [2])]) == "partitions should be a consecutive 0-based integer sequence")
        #expect(message([(1, [1])]) == "partitions should be a consecutive 0-based integer sequence", "a new topic starts at 0")
        #expect(message([(0, [])]) == "partition 0 has an empty replica list")
        #expect(message([(0, [1, 1])]) == "partition 0 lists a broker twice: [1, 1]")
        #expect(message([(0, [1]), (1, [7])]) == "partition 1 names broker 7, which is not registered")
        #expect(message([(0, [1, 2]), (1, [3])]) == "partition 1 has 1 replicas where the others have 2")
    }
}
