import KafkaProtocol

/// A share group as `strom share-group describe` shows it.
public struct ShareGroupDescription: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public var memberId: String
        public var clientId: String
        public var host: String
        public var memberEpoch: Int32
        /// Assigned partitions by topic name.
        public var assignment: [String: [Int32]]
    }

    public var groupId: String
    public var state: String
    public var groupEpoch: Int32
    public var assignor: String
    public var members: [Member]
}

/// One share-partition's offsets: where the group's share-partition starts (-1: no state yet)
/// and how many records from there on are not done (-1: unknown).
public struct ShareGroupOffset: Sendable, Hashable {
    public var startOffset: Int64
    public var lag: Int64
}

extension KafkaClient {
    /// A share group's state and members (ShareGroupDescribe at its coordinator).
    public func describeShareGroup(_ groupId: String) async throws(StromClientError) -> ShareGroupDescription {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: ShareGroupDescribeRequest.self)
        let response = try await connection.send(ShareGroupDescribeRequest(groupIds: [groupId]), version: version)
        guard let group = response.groups.first else {
            throw .malformedResponse(.shareGroupDescribe, reason: "no answer for group \"\(groupId)\"")
        }
        if let error = StromClientError.check(group.errorCode, resource: "share group \"\(groupId)\"", message: group.errorMessage) { throw error }
        return ShareGroupDescription(
            groupId: groupId, state: group.groupState, groupEpoch: group.groupEpoch, assignor: group.assignorName,
            members: group.members.map { member in
                .init(
                    memberId: member.memberId, clientId: member.clientId, host: member.clientHost, memberEpoch: member.memberEpoch,
                    assignment: Dictionary(member.assignment.topicPartitions.map { ($0.topicName, $0.partitions.sorted()) }, uniquingKeysWith: +))
            })
    }

    /// The start offset and lag of every share-partition the group has state for, by topic and partition.
    public func shareGroupOffsets(group groupId: String) async throws(StromClientError) -> [String: [Int32: ShareGroupOffset]] {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: DescribeShareGroupOffsetsRequest.self)
        let response = try await connection.send(DescribeShareGroupOffsetsRequest(groups: [.init(groupId: groupId, topics: nil)]), version: version)
        guard let group = response.groups.first else {
            throw .malformedResponse(.describeShareGroupOffsets, reason: "no answer for group \"\(groupId)\"")
        }
        if let error = StromClientError.check(group.errorCode, resource: "share group \"\(groupId)\"", message: group.errorMessage) { throw error }
        var offsets: [String: [Int32: ShareGroupOffset]] = [:]
        for topic in group.topics {
            for partition in topic.partitions {
                let resource = "share group \"\(groupId)\" topic \"\(topic.topicName)\" partition \(partition.partitionIndex)"
                if let error = StromClientError.check(partition.errorCode, resource: resource, message: partition.errorMessage) { throw error }
                offsets[topic.topicName, default: [:]][partition.partitionIndex] = ShareGroupOffset(startOffset: partition.startOffset, lag: partition.lag)
            }
        }
        return offsets
    }

    /// Sets the start offsets of one topic's share-partitions (the group must have no members).
    public func alterShareGroupOffsets(group groupId: String, topic: String, offsets: [Int32: Int64]) async throws(StromClientError) {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: AlterShareGroupOffsetsRequest.self)
        let request = AlterShareGroupOffsetsRequest(groupId: groupId, topics: [
            .init(topicName: topic, partitions: offsets.sorted { $0.key < $1.key }.map { .init(partitionIndex: $0.key, startOffset: $0.value) }),
        ])
        let response = try await connection.send(request, version: version)
        if let error = StromClientError.check(response.errorCode, resource: "share group \"\(groupId)\"", message: response.errorMessage) { throw error }
        for partition in response.responses.flatMap(\.partitions) {
            let resource = "share group \"\(groupId)\" topic \"\(topic)\" partition \(partition.partitionIndex)"
            if let error = StromClientError.check(partition.errorCode, resource: resource, message: partition.errorMessage) { throw error }
        }
    }

    /// Forgets the group's state of these topics (the group must have no members).
    public func deleteShareGroupOffsets(group groupId: String, topics: [String]) async throws(StromClientError) {
        let connection = try await coordinator(ofGroup: groupId)
        let version = try connection.apiVersions.version(for: DeleteShareGroupOffsetsRequest.self)
        let response = try await connection.send(
            DeleteShareGroupOffsetsRequest(groupId: groupId, topics: topics.map { .init(topicName: $0) }), version: version)
        if let error = StromClientError.check(response.errorCode, resource: "share group \"\(groupId)\"", message: response.errorMessage) { throw error }
        for topic in response.responses {
            if let error = StromClientError.check(topic.errorCode, resource: "share group \"\(groupId)\" topic \"\(topic.topicName)\"", message: topic.errorMessage) {
                throw error
            }
        }
    }
}
