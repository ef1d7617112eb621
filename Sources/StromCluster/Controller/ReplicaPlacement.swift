/// Why a placement could not be made (CreateTopics and CreatePartitions answer `INVALID_REPLICATION_FACTOR`
/// for the replication-factor cases, `INVALID_PARTITIONS` for a negative count).
public enum ReplicaPlacementError: Error, Hashable, Sendable {
    /// No broker is registered: nothing can hold a replica.
    case noBrokers
    /// The replication factor is below one.
    case replicationFactorBelowOne(replicationFactor: Int)
    /// More replicas per partition than brokers: some broker would hold two copies.
    case replicationFactorAboveBrokerCount(replicationFactor: Int, brokerCount: Int)
    /// A negative number of partitions was asked for.
    case negativePartitionCount(partitionCount: Int)
    /// The same node id appears twice in the broker list.
    case duplicateBrokerId(nodeId: Int32)
}

/// Where the replicas of new partitions go, as Kafka's `AdminUtils.assignReplicasToBrokers` places them.
///
/// Rack-unaware: partition `p`'s first replica (its preferred leader) is broker `(p + startIndex) % n`
/// of the brokers sorted by id, so leaders spread evenly; the other replicas follow at a distance
/// (`nextReplicaShift`) that grows by one every time the partition number wraps around the broker
/// count, so that two partitions with the same leader do not also share their followers.
///
/// Rack-aware (every broker has a rack): the same walk over a broker list that alternates racks, skipping
/// a broker whose rack already holds a replica (until every rack holds one) or that already holds one
/// (until every broker does). Each partition then spans `min(replicationFactor, rackCount)` racks.
///
/// Pure: the random start index and shift are inputs, so the same inputs give the same placement.
public enum ReplicaPlacement {
    /// A broker as placement sees it.
    public typealias Broker = (nodeId: Int32, rack: String?)

    /// Places `partitionCount` partitions numbered from `firstPartition`.
    ///
    /// - Parameters:
    ///   - partitionCount: How many partitions to place (0 gives an empty list).
    ///   - firstPartition: The number of the first new partition (CreatePartitions passes the current
    ///     count); negative numbers count as 0, as in Kafka.
    ///   - replicationFactor: Replicas per partition, at most the number of brokers.
    ///   - brokers: The live brokers, in any order.
    ///   - startIndex: Which broker (in the sorted or rack-alternated list) leads the first partition;
    ///     Kafka picks it at random. Taken modulo the broker count.
    ///   - nextReplicaShift: The initial distance of the second replica from the first; Kafka picks it at
    ///     random in `0..<brokerCount`. Used as given (it matters modulo `brokerCount - 1`); a negative
    ///     value is first brought into that range.
    /// - Returns: One replica list per partition, preferred leader first; element `i` is partition
    ///   `firstPartition + i`.
    /// - Throws: ``ReplicaPlacementError`` when the brokers cannot hold the asked replication factor.
    public static func place(
        partitionCount: Int, firstPartition: Int32 = 0, replicationFactor: Int, brokers: [Broker],
        startIndex: Int, nextReplicaShift: Int
    ) throws(ReplicaPlacementError) -> [[Int32]] {
        try validate(partitionCount: partitionCount, replicationFactor: replicationFactor, brokers: brokers)
        let brokerCount = brokers.count
        let start = nonNegativeModulo(startIndex, brokerCount)
        let shift = nextReplicaShift >= 0 ? nextReplicaShift : nonNegativeModulo(nextReplicaShift, max(1, brokerCount - 1))
        let firstPartitionNumber = Int(max(0, firstPartition))
        // Kafka refuses a mix of racked and unracked brokers unless told to ignore racks; Strom places
        // such a cluster rack-unaware rather than failing topic creation.
        if brokers.allSatisfy({ $0.rack != nil }) {
            return placeRackAware(
                partitionCount: partitionCount, firstPartition: firstPartitionNumber,
                replicationFactor: replicationFactor, brokers: brokers, startIndex: start, nextReplicaShift: shift)
        }
        return placeRackUnaware(
            partitionCount: partitionCount, firstPartition: firstPartitionNumber, replicationFactor: replicationFactor,
            brokerIds: brokers.map(\.nodeId).sorted(), startIndex: start, nextReplicaShift: shift)
    }

    /// ``place(partitionCount:firstPartition:replicationFactor:brokers:startIndex:nextReplicaShift:)`` with
    /// the start index and shift drawn from `generator`, as Kafka draws them for every CreateTopics.
    public static func place(
        partitionCount: Int, firstPartition: Int32 = 0, replicationFactor: Int, brokers: [Broker],
        using generator: inout some RandomNumberGenerator
    ) throws(ReplicaPlacementError) -> [[Int32]] {
        try validate(partitionCount: partitionCount, replicationFactor: replicationFactor, brokers: brokers)
        let startIndex = Int.random(in: 0..<brokers.count, using: &generator)
        let nextReplicaShift = Int.random(in: 0..<brokers.count, using: &generator)
        return try place(
            partitionCount: partitionCount, firstPartition: firstPartition, replicationFactor: replicationFactor,
            brokers: brokers, startIndex: startIndex, nextReplicaShift: nextReplicaShift)
    }

    /// The broker list the rack-aware walk uses: racks sorted by name, each rack's brokers sorted by id,
    /// taken one rack at a time in turn (racks that run out are skipped). Neighbours in this list sit
    /// in different racks whenever the racks allow it.
    static func rackAlternatedBrokers(_ brokers: [(nodeId: Int32, rack: String)]) -> [Int32] {
        var brokersByRack: [String: [Int32]] = [:]
        for broker in brokers { brokersByRack[broker.rack, default: []].append(broker.nodeId) }
        let racks = brokersByRack.keys.sorted()
        let sortedBrokersByRack = racks.map { brokersByRack[$0]!.sorted() }
        var alternated: [Int32] = []
        alternated.reserveCapacity(brokers.count)
        var round = 0
        while alternated.count < brokers.count {
            for rackBrokers in sortedBrokersByRack where round < rackBrokers.count {
                alternated.append(rackBrokers[round])
            }
            round += 1
        }
        return alternated
    }

    // MARK: Private

    private static func validate(
        partitionCount: Int, replicationFactor: Int, brokers: [Broker]
    ) throws(ReplicaPlacementError) {
        guard !brokers.isEmpty else { throw .noBrokers }
        guard replicationFactor >= 1 else { throw .replicationFactorBelowOne(replicationFactor: replicationFactor) }
        guard replicationFactor <= brokers.count else {
            throw .replicationFactorAboveBrokerCount(replicationFactor: replicationFactor, brokerCount: brokers.count)
        }
        guard partitionCount >= 0 else { throw .negativePartitionCount(partitionCount: partitionCount) }
        var seen = Set<Int32>()
        for broker in brokers where !seen.insert(broker.nodeId).inserted {
            throw .duplicateBrokerId(nodeId: broker.nodeId)
        }
    }

    private static func placeRackUnaware(
        partitionCount: Int, firstPartition: Int, replicationFactor: Int, brokerIds: [Int32], startIndex: Int,
        nextReplicaShift: Int
    ) -> [[Int32]] {
        let brokerCount = brokerIds.count
        var shift = nextReplicaShift
        var placements: [[Int32]] = []
        placements.reserveCapacity(partitionCount)
        for partition in firstPartition..<(firstPartition + partitionCount) {
            if partition > 0 && partition % brokerCount == 0 { shift += 1 }
            let firstIndex = (partition + startIndex) % brokerCount
            var replicas = [brokerIds[firstIndex]]
            replicas.reserveCapacity(replicationFactor)
            for further in 0..<(replicationFactor - 1) {
                replicas.append(brokerIds[replicaIndex(first: firstIndex, shift: shift, step: further, brokerCount: brokerCount)])
            }
            placements.append(replicas)
        }
        return placements
    }

    private static func placeRackAware(
        partitionCount: Int, firstPartition: Int, replicationFactor: Int, brokers: [Broker], startIndex: Int,
        nextReplicaShift: Int
    ) -> [[Int32]] {
        var rackOf: [Int32: String] = [:]
        for broker in brokers { rackOf[broker.nodeId] = broker.rack }
        let alternated = rackAlternatedBrokers(brokers.map { (nodeId: $0.nodeId, rack: $0.rack ?? "") })
        let rackCount = Set(rackOf.values).count
        let brokerCount = alternated.count
        var shift = nextReplicaShift
        var placements: [[Int32]] = []
        placements.reserveCapacity(partitionCount)
        for partition in firstPartition..<(firstPartition + partitionCount) {
            if partition > 0 && partition % brokerCount == 0 { shift += 1 }
            let firstIndex = (partition + startIndex) % brokerCount
            let leader = alternated[firstIndex]
            var replicas = [leader]
            replicas.reserveCapacity(replicationFactor)
            var racksWithReplica: Set<String> = [rackOf[leader]!]
            var brokersWithReplica: Set<Int32> = [leader]
            // `step` keeps counting across the partition's replicas, as in Kafka. Within brokerCount - 1
            // steps the walk visits every broker but the leader, and one of them is always acceptable (a
            // broker of a rack without a replica, or any broker without one), so the bound is never hit.
            var step = 0
            for _ in 0..<(replicationFactor - 1) {
                for _ in 0..<(brokerCount - 1) {
                    let broker = alternated[replicaIndex(first: firstIndex, shift: shift * rackCount, step: step, brokerCount: brokerCount)]
                    step += 1
                    let rack = rackOf[broker]!
                    let rackAcceptable = !racksWithReplica.contains(rack) || racksWithReplica.count == rackCount
                    let brokerAcceptable = !brokersWithReplica.contains(broker) || brokersWithReplica.count == brokerCount
                    if rackAcceptable && brokerAcceptable {
                        replicas.append(broker)
                        racksWithReplica.insert(rack)
                        brokersWithReplica.insert(broker)
                        break
                    }
                }
            }
            precondition(replicas.count == replicationFactor, "rack-aware walk found no acceptable broker: \(replicas)")
            placements.append(replicas)
        }
        return placements
    }

    /// The index of a further replica: `1 + (shift + step) % (n - 1)` brokers after the first, so it is
    /// never the first replica itself.
    private static func replicaIndex(first: Int, shift: Int, step: Int, brokerCount: Int) -> Int {
        (first + 1 + (shift + step) % (brokerCount - 1)) % brokerCount
    }

    private static func nonNegativeModulo(_ value: Int, _ modulus: Int) -> Int {
        let remainder = value % modulus
        return remainder < 0 ? remainder + modulus : remainder
    }
}
