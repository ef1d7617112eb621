import StromTestSupport
import Testing

@testable import StromCluster

/// Replica placement against placements worked out by hand from Kafka's `AdminUtils` algorithm, plus
/// the properties that make it worth having: leaders spread evenly, no broker twice, racks spanned.
@Suite struct ReplicaPlacementTests {
    static let fiveBrokers: [ReplicaPlacement.Broker] = [4, 2, 0, 3, 1].map { (nodeId: $0, rack: nil) }
    /// Two brokers in each of three racks, listed out of order.
    static let sixBrokersInThreeRacks: [ReplicaPlacement.Broker] = [
        (nodeId: 5, rack: "c"), (nodeId: 2, rack: "b"), (nodeId: 0, rack: "a"),
        (nodeId: 4, rack: "c"), (nodeId: 1, rack: "a"), (nodeId: 3, rack: "b"),
    ]

    /// Five brokers, ten partitions, three replicas, start index 2, shift 3. Partition p leads on broker
    /// (p + 2) % 5; the further replicas sit 1 + (shift + j) % 4 brokers after it, with the shift 3 for
    /// partitions 0-4 and 4 from partition 5 on (the partition number wrapped the broker count once).
    /// For example partition 0: first 2, then 2 + 1 + 3 % 4 = 6 → 1, then 2 + 1 + 4 % 4 = 3 → 3.
    @Test func rackUnawareMatchesTheHandWorkedPlacement() throws {
        let placement = try ReplicaPlacement.place(
            partitionCount: 10, replicationFactor: 3, brokers: Self.fiveBrokers, startIndex: 2, nextReplicaShift: 3)
        #expect(placement == [
            [2, 1, 3], [3, 2, 4], [4, 3, 0], [0, 4, 1], [1, 0, 2],
            [2, 3, 4], [3, 4, 0], [4, 0, 1], [0, 1, 2], [1, 2, 3],
        ])
    }

    /// Start index 0 and shift 0: the placement Kafka's own tests expect for this cluster.
    @Test func rackUnawareWithZeroStartAndShift() throws {
        let placement = try ReplicaPlacement.place(
            partitionCount: 10, replicationFactor: 3, brokers: Self.fiveBrokers, startIndex: 0, nextReplicaShift: 0)
        #expect(placement == [
            [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1],
            [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
        ])
    }

    /// New partitions continue the numbering: partitions 5-9 placed on their own are the tail of the
    /// ten-partition placement (the shift already counts the wrap at partition 5).
    @Test func firstPartitionContinuesTheSequence() throws {
        let tail = try ReplicaPlacement.place(
            partitionCount: 5, firstPartition: 5, replicationFactor: 3, brokers: Self.fiveBrokers, startIndex: 2,
            nextReplicaShift: 3)
        #expect(tail == [[2, 3, 4], [3, 4, 0], [4, 0, 1], [0, 1, 2], [1, 2, 3]])
    }

    @Test func leadersSpreadEvenlyAndNoBrokerRepeats() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<50 {
            let brokerCount = 1 + random.below(7)
            let brokers: [ReplicaPlacement.Broker] = (0..<brokerCount).map { (nodeId: Int32(10 + $0), rack: nil) }
            let replicationFactor = 1 + random.below(brokerCount)
            let partitionCount = brokerCount * (1 + random.below(4))
            let placement = try ReplicaPlacement.place(
                partitionCount: partitionCount, replicationFactor: replicationFactor, brokers: brokers, using: &random)
            #expect(placement.count == partitionCount)
            var leaderCounts: [Int32: Int] = [:]
            for replicas in placement {
                #expect(replicas.count == replicationFactor)
                #expect(Set(replicas).count == replicas.count, "a broker twice in \(replicas)")
                leaderCounts[replicas[0], default: 0] += 1
            }
            // A multiple of the broker count gives every broker the same number of leaders.
            #expect(Set(leaderCounts.values) == [partitionCount / brokerCount])
            #expect(leaderCounts.count == brokerCount)
        }
    }

    @Test func rackAlternatedListTakesRacksInTurn() {
        let brokers: [(nodeId: Int32, rack: String)] = [
            (0, "rack1"), (1, "rack3"), (2, "rack3"), (3, "rack2"), (4, "rack2"), (5, "rack1"),
        ]
        #expect(ReplicaPlacement.rackAlternatedBrokers(brokers) == [0, 3, 1, 5, 4, 2])
        // A rack that runs out is skipped.
        #expect(ReplicaPlacement.rackAlternatedBrokers([(0, "a"), (1, "a"), (2, "a"), (3, "b")]) == [0, 3, 1, 2])
    }

    /// Racks a = {0, 1}, b = {2, 3}, c = {4, 5}: the alternated list is [0, 2, 4, 1, 3, 5]. With start
    /// index 0 and shift 0 each partition takes its leader at index p and the next two in the list, which
    /// are in the two other racks.
    @Test func rackAwareMatchesTheHandWorkedPlacement() throws {
        let placement = try ReplicaPlacement.place(
            partitionCount: 6, replicationFactor: 3, brokers: Self.sixBrokersInThreeRacks, startIndex: 0, nextReplicaShift: 0)
        #expect(placement == [[0, 2, 4], [2, 4, 1], [4, 1, 3], [1, 3, 5], [3, 5, 0], [5, 0, 2]])
    }

    /// Racks a = {0, 1, 2}, b = {3}: alternated [0, 3, 1, 2], start 1, shift 2 (times 2 racks). Partition
    /// 0 leads on 3 (rack b); the walk takes 2 (rack a, new), then 0 (every rack has a replica, 0 has none).
    @Test func rackAwareWithMoreReplicasThanRacks() throws {
        let brokers: [ReplicaPlacement.Broker] = [(0, "a"), (1, "a"), (2, "a"), (3, "b")]
        let placement = try ReplicaPlacement.place(
            partitionCount: 4, replicationFactor: 3, brokers: brokers, startIndex: 1, nextReplicaShift: 2)
        #expect(placement == [[3, 2, 0], [1, 3, 2], [2, 3, 1], [0, 3, 1]])
    }

    @Test func rackAwareSpansAsManyRacksAsItCan() throws {
        var random = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let rackCount = 1 + random.below(4)
            let brokerCount = rackCount + random.below(6)
            // Every rack gets at least one broker, the rest land anywhere.
            let brokers: [ReplicaPlacement.Broker] = (0..<brokerCount).map { index in
                (nodeId: Int32(index), rack: "rack-\(index < rackCount ? index : random.below(rackCount))")
            }
            let rackOf = Dictionary(uniqueKeysWithValues: brokers.map { ($0.nodeId, $0.rack!) })
            let replicationFactor = 1 + random.below(brokerCount)
            let placement = try ReplicaPlacement.place(
                partitionCount: 1 + random.below(20), replicationFactor: replicationFactor, brokers: brokers, using: &random)
            for replicas in placement {
                #expect(Set(replicas).count == replicationFactor)
                #expect(Set(replicas.map { rackOf[$0]! }).count == min(replicationFactor, rackCount), "\(replicas) in \(brokers)")
            }
        }
    }

    /// One broker without a rack: the cluster is placed rack-unaware (sorted by id) instead of failing.
    @Test func mixedRacksPlaceRackUnaware() throws {
        let brokers: [ReplicaPlacement.Broker] = [(0, "a"), (1, "a"), (2, nil), (3, "b"), (4, "b")]
        let mixed = try ReplicaPlacement.place(
            partitionCount: 10, replicationFactor: 3, brokers: brokers, startIndex: 2, nextReplicaShift: 3)
        let unracked = try ReplicaPlacement.place(
            partitionCount: 10, replicationFactor: 3, brokers: Self.fiveBrokers, startIndex: 2, nextReplicaShift: 3)
        #expect(mixed == unracked)
    }

    @Test func errors() {
        #expect(throws: ReplicaPlacementError.noBrokers) {
            try ReplicaPlacement.place(partitionCount: 1, replicationFactor: 1, brokers: [], startIndex: 0, nextReplicaShift: 0)
        }
        #expect(throws: ReplicaPlacementError.replicationFactorBelowOne(replicationFactor: 0)) {
            try ReplicaPlacement.place(partitionCount: 1, replicationFactor: 0, brokers: Self.fiveBrokers, startIndex: 0, nextReplicaShift: 0)
        }
        #expect(throws: ReplicaPlacementError.replicationFactorAboveBrokerCount(replicationFactor: 6, brokerCount: 5)) {
            try ReplicaPlacement.place(partitionCount: 1, replicationFactor: 6, brokers: Self.fiveBrokers, startIndex: 0, nextReplicaShift: 0)
        }
        #expect(throws: ReplicaPlacementError.negativePartitionCount(partitionCount: -1)) {
            try ReplicaPlacement.place(partitionCount: -1, replicationFactor: 1, brokers: Self.fiveBrokers, startIndex: 0, nextReplicaShift: 0)
        }
        #expect(throws: ReplicaPlacementError.duplicateBrokerId(nodeId: 1)) {
            try ReplicaPlacement.place(
                partitionCount: 1, replicationFactor: 1, brokers: [(1, nil), (1, nil)], startIndex: 0, nextReplicaShift: 0)
        }
        var random = SplitMix64(seed: 1)
        #expect(throws: ReplicaPlacementError.noBrokers) {
            try ReplicaPlacement.place(partitionCount: 1, replicationFactor: 1, brokers: [], using: &random)
        }
    }

    @Test func zeroPartitionsIsEmpty() throws {
        #expect(try ReplicaPlacement.place(
            partitionCount: 0, replicationFactor: 1, brokers: Self.fiveBrokers, startIndex: 0, nextReplicaShift: 0).isEmpty)
    }
}
