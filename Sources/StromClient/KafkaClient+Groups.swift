import KafkaProtocol
import NIOCore

/// A consumer group as `strom group describe` shows it, for classic and KIP-848 groups alike.
public struct GroupDescription: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public var memberId: String
        public var instanceId: String?
        public var clientId: String
        public var host: String
        /// Assigned partitions by topic name.
        public var assignment: [String: [Int32]]
    }

    public var groupId: String
    /// "classic" or "consumer" (KIP-848).
    public var type: String
    public var state: String
    /// The assignor (classic: the chosen protocol; KIP-848: the server assignor).
    public var assignor: String
    public var members: [Member]
}

/// A group as ListGroups reports it.
public struct GroupListing: Sendable, Hashable {
    public var groupId: String
    public var type: String
    public var state: String
    public var protocolType: String
}

extension KafkaClient {
    /// The coordinator of a consumer group (FindCoordinator).
    func coordinator(ofGroup groupId: String) async throws(StromClientError) -> KafkaClientConnection {
        try await coordinator(key: groupId, keyType: 0, resource: "group \"\(groupId)\"")
    }

    /// The node id of a consumer group's coordinator (FindCoordinator).
    public func coordinatorId(ofGroup groupId: String) async throws(StromClientError) -> Int32 {
        try await coordinatorId(key: groupId, keyType: 0, resource: "group \"\(groupId)\"")
    }

    /// The coordinator of a key of Kafka's key type (0 groups, 1 transactional ids).
    func coordinator(key: String, keyType: Int8, resource: String) async throws(StromClientError) -> KafkaClientConnection {
        try await connection(toNode: try await coordinatorId(key: key, keyType: keyType, resource: resource))
    }

    private func coordinatorId(key: String, keyType: Int8, resource: String) async throws(StromClientError) -> Int32 {
        if brokersAreUnknown { _ = try await metadata(topics: []) }
        let version = try bootstrap.apiVersions.version(for: FindCoordinatorRequest.self)
        // v4+ carry a batch of keys; older versions one key at the top level.
        let request = version >= 4
            ? FindCoordinatorRequest(keyType: keyType, coordinatorKeys: [key])
            : FindCoordinatorRequest(key: key, keyType: keyType)
        let response = try await bootstrap.send(request, version: version)
        let (nodeId, code, message) = version >= 4
            ? (response.coordinators.first?.nodeId ?? -1, response.coordinators.first?.errorCode ?? -1, response.coordinators.first?.errorMessage)
            : (response.nodeId, response.errorCode, response.errorMessage)
        if let error = StromClientError.check(code, resource: resource, message: message) { throw error }
        return nodeId
    }

    /// Every group the brokers know (ListGroups to each broker).
    public func listGroups() async throws(StromClientError) -> [GroupListing] {
        let cluster = try await metadata(topics: [])
        var listings: [GroupListing] = []
        for broker in cluster.brokers {
            let connection = try await connection(toNode: broker.nodeId)
            let version = try connection.apiVersions.version(for: ListGroupsRequest.self)
            let response = try await connection.send(ListGroupsRequest(), version: version)
            if let error = StromClientError.check(response.errorCode, resource: "broker \(broker.nodeId)") { throw error }
            listings += response.groups.map {
                GroupListing(
                    groupId: $0.groupId, type: $0.groupType.isEmpty ? "classic" : $0.groupType, state: $0.groupState,
                    protocolType: $0.protocolType)
            }
        }
        return listings.sorted { $0.groupId < $1.groupId }
    }

    /// A group's state and members: ConsumerGroupDescribe for KIP-848 groups, DescribeGroups
    /// (decoding the consumer protocol's assignments) for classic ones.
    public func describeGroup(_ groupId: String) async throws(StromClientError) -> GroupDescription {
        let connection = try await coordinator(ofGroup: groupId)
        if connection.apiVersions.supports(ConsumerGroupDescribeRequest.self) {
            let version = try connection.apiVersions.version(for: ConsumerGroupDescribeRequest.self)
            let response = try await connection.send(ConsumerGroupDescribeRequest(groupIds: [groupId]), version: version)
            if let group = response.groups.first, group.errorCode == KafkaErrorCode.none.rawValue {
                return GroupDescription(
                    groupId: groupId, type: "consumer", state: group.groupState, assignor: group.assignorName,
                    members: group.members.map { member in
                        .init(
                            memberId: member.memberId, instanceId: member.instanceId, clientId: member.clientId, host: member.clientHost,
                            assignment: Dictionary(member.assignment.topicPartitions.map { ($0.topicName, $0.partitions.sorted()) }, uniquingKeysWith: +))
                    })
            }
            // GROUP_ID_NOT_FOUND: a classic group (or none); DescribeGroups says which.
        }
        let version = try connection.apiVersions.version(for: DescribeGroupsRequest.self)
        let response = try await connection.send(DescribeGroupsRequest(groups: [groupId]), version: version)
        guard let group = response.groups.first else {
            throw .malformedResponse(.describeGroups, reason: "no answer for group \"\(groupId)\"")
        }
        if let error = StromClientError.check(group.errorCode, resource: "group \"\(groupId)\"") { throw error }
        return GroupDescription(
            groupId: groupId, type: "classic", state: group.groupState, assignor: group.protocolData,
            members: group.members.map { member in
                .init(
                    memberId: member.memberId, instanceId: member.groupInstanceId, clientId: member.clientId, host: member.clientHost,
                    assignment: group.protocolType == "consumer" ? Self.consumerAssignment(member.memberAssignment) : [:])
            })
    }

    /// The partitions in a classic consumer's assignment bytes (ConsumerProtocolAssignment).
    static func consumerAssignment(_ bytes: ByteBuffer) -> [String: [Int32]] {
        var bytes = bytes
        guard let version = try? bytes.readKafkaInt16(), version >= 0,
              let assignment = try? ConsumerProtocolAssignment(from: &bytes, version: min(version, ConsumerProtocolAssignment.validVersions.upperBound))
        else { return [:] }
        return Dictionary(assignment.assignedPartitions.map { ($0.topic, $0.partitions.sorted()) }, uniquingKeysWith: +)
    }

    /// A group's committed offsets (OffsetFetch), by topic and partition.
    public func committedOffsets(group groupId: String) async throws(StromClientError) -> [String: [Int32: Int64]] {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: OffsetFetchRequest.self, minimum: 2)
        var committed: [String: [Int32: Int64]] = [:]
        if version >= 8 {
            let response = try await connection.send(OffsetFetchRequest(groups: [.init(groupId: groupId, topics: nil)]), version: version)
            guard let group = response.groups.first else { throw .malformedResponse(.offsetFetch, reason: "no answer for group \"\(groupId)\"") }
            if let error = StromClientError.check(group.errorCode, resource: "group \"\(groupId)\"") { throw error }
            for topic in group.topics {
                for partition in topic.partitions where partition.committedOffset >= 0 {
                    committed[topic.name, default: [:]][partition.partitionIndex] = partition.committedOffset
                }
            }
        } else {
            let response = try await connection.send(OffsetFetchRequest(groupId: groupId, topics: nil), version: version)
            if let error = StromClientError.check(response.errorCode, resource: "group \"\(groupId)\"") { throw error }
            for topic in response.topics {
                for partition in topic.partitions where partition.committedOffset >= 0 {
                    committed[topic.name, default: [:]][partition.partitionIndex] = partition.committedOffset
                }
            }
        }
        return committed
    }

    /// Commits offsets for a group from outside it (generation -1, as admin tools do): the group
    /// must have no members.
    public func commitOffsets(group groupId: String, topic: String, offsets: [Int32: Int64]) async throws(StromClientError) {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: OffsetCommitRequest.self, minimum: 2)
        let request = OffsetCommitRequest(
            groupId: groupId, generationIdOrMemberEpoch: -1, memberId: "",
            topics: [.init(name: topic, partitions: offsets.sorted { $0.key < $1.key }.map { .init(partitionIndex: $0.key, committedOffset: $0.value) })])
        let response = try await connection.send(request, version: version)
        for topicResponse in response.topics {
            for partition in topicResponse.partitions {
                if let error = StromClientError.check(
                    partition.errorCode, resource: "group \"\(groupId)\" topic \"\(topicResponse.name)\" partition \(partition.partitionIndex)") {
                    throw error
                }
            }
        }
    }

    /// Deletes groups without members, with their offsets (DeleteGroups); one result per group.
    public func deleteGroups(_ groupIds: [String]) async throws(StromClientError) -> [String: Result<Void, StromClientError>] {
        var results: [String: Result<Void, StromClientError>] = [:]
        for groupId in groupIds {
            do {
                let connection = try await coordinator(ofGroup: groupId)
                let version = try connection.apiVersions.version(for: DeleteGroupsRequest.self)
                let response = try await connection.send(DeleteGroupsRequest(groupsNames: [groupId]), version: version)
                let code = response.results.first { $0.groupId == groupId }?.errorCode ?? KafkaErrorCode.unknownServerError.rawValue
                if let error = StromClientError.check(code, resource: "group \"\(groupId)\"") {
                    results[groupId] = .failure(error)
                } else {
                    results[groupId] = .success(())
                }
            } catch {
                results[groupId] = .failure(error)
            }
        }
        return results
    }
}
