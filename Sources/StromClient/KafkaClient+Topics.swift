import KafkaProtocol

extension KafkaClient {
    /// Creates topics (CreateTopics, sent to the bootstrap broker).
    ///
    /// - Parameters:
    ///   - validateOnly: checks the request without creating anything (CreateTopics v1+).
    ///   - timeoutMs: how long the broker may take to create them.
    /// - Returns: each topic's outcome by name; a failure carries the broker's error code and message.
    /// - Throws: when the request as a whole fails (connection, unsupported API, ...).
    public func createTopics(
        _ newTopics: [NewTopic], validateOnly: Bool = false, timeoutMs: Int32 = 30_000
    ) async throws(StromClientError) -> [String: Result<CreatedTopic, StromClientError>] {
        let version = try bootstrap.apiVersions.version(for: CreateTopicsRequest.self)
        // Broker defaults for the partition count and replication factor arrived in v4 (KIP-464).
        if version < 4, let topic = newTopics.first(where: { $0.partitionCount == nil || $0.replicationFactor == nil }) {
            throw .invalidArgument("topic \"\(topic.name)\": this broker (CreateTopics v\(version)) needs an explicit partition count and replication factor")
        }
        let request = CreateTopicsRequest(
            topics: newTopics.map { topic in
                CreateTopicsRequest.CreatableTopic(
                    name: topic.name, numPartitions: topic.partitionCount ?? -1, replicationFactor: topic.replicationFactor ?? -1,
                    configs: topic.configs.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: $0.value) })
            },
            timeoutMs: timeoutMs, validateOnly: validateOnly)
        let response = try await bootstrap.send(request, version: version, timeout: bootstrap.requestTimeout + .milliseconds(timeoutMs))
        forgetTopics(newTopics.map(\.name))
        var results: [String: Result<CreatedTopic, StromClientError>] = [:]
        for topic in response.topics {
            if let error = StromClientError.check(topic.errorCode, resource: "topic \"\(topic.name)\"", message: topic.errorMessage) {
                results[topic.name] = .failure(error)
            } else {
                results[topic.name] = .success(CreatedTopic(
                    name: topic.name, topicId: topic.topicId, partitionCount: topic.numPartitions, replicationFactor: topic.replicationFactor))
            }
        }
        for topic in newTopics where results[topic.name] == nil {
            results[topic.name] = .failure(.malformedResponse(.createTopics, reason: "no result for topic \"\(topic.name)\""))
        }
        return results
    }

    /// Creates one topic.
    /// - Throws: the broker's error for it (TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, ...).
    @discardableResult
    public func createTopic(_ newTopic: NewTopic, validateOnly: Bool = false, timeoutMs: Int32 = 30_000) async throws(StromClientError) -> CreatedTopic {
        let results = try await createTopics([newTopic], validateOnly: validateOnly, timeoutMs: timeoutMs)
        guard let result = results[newTopic.name] else {
            throw .malformedResponse(.createTopics, reason: "no result for topic \"\(newTopic.name)\"")
        }
        return try result.get()
    }

    /// Deletes topics by name (DeleteTopics, sent to the bootstrap broker).
    /// - Returns: each topic's outcome by name.
    public func deleteTopics(_ names: [String], timeoutMs: Int32 = 30_000) async throws(StromClientError) -> [String: Result<Void, StromClientError>] {
        let version = try bootstrap.apiVersions.version(for: DeleteTopicsRequest.self)
        var request = DeleteTopicsRequest(timeoutMs: timeoutMs)
        // v6 names topics in structs (by name or id); earlier versions in a list of names.
        if version >= 6 {
            request.topics = names.map { DeleteTopicsRequest.DeleteTopicState(name: $0) }
        } else {
            request.topicNames = names
        }
        let response = try await bootstrap.send(request, version: version, timeout: bootstrap.requestTimeout + .milliseconds(timeoutMs))
        forgetTopics(names)
        var results: [String: Result<Void, StromClientError>] = [:]
        for topic in response.responses {
            let name = topic.name ?? "\(topic.topicId)"
            if let error = StromClientError.check(topic.errorCode, resource: "topic \"\(name)\"", message: topic.errorMessage) {
                results[name] = .failure(error)
            } else {
                results[name] = .success(())
            }
        }
        for name in names where results[name] == nil {
            results[name] = .failure(.malformedResponse(.deleteTopics, reason: "no result for topic \"\(name)\""))
        }
        return results
    }

    /// Deletes one topic.
    /// - Throws: the broker's error for it (UNKNOWN_TOPIC_OR_PARTITION, ...).
    public func deleteTopic(_ name: String, timeoutMs: Int32 = 30_000) async throws(StromClientError) {
        guard let result = try await deleteTopics([name], timeoutMs: timeoutMs)[name] else {
            throw .malformedResponse(.deleteTopics, reason: "no result for topic \"\(name)\"")
        }
        try result.get()
    }

    /// Grows a topic to `count` partitions (CreatePartitions, sent to the bootstrap broker); the
    /// broker places the new ones. Partitions are never removed, as in Kafka.
    /// - Throws: the broker's error (INVALID_PARTITIONS when `count` is not more than now, ...).
    public func createPartitions(topic name: String, count: Int32, validateOnly: Bool = false, timeoutMs: Int32 = 30_000) async throws(StromClientError) {
        let version = try bootstrap.apiVersions.version(for: CreatePartitionsRequest.self)
        let request = CreatePartitionsRequest(
            topics: [.init(name: name, count: count, assignments: nil)], timeoutMs: timeoutMs, validateOnly: validateOnly)
        let response = try await bootstrap.send(request, version: version, timeout: bootstrap.requestTimeout + .milliseconds(timeoutMs))
        forgetTopics([name])
        guard let result = response.results.first(where: { $0.name == name }) else {
            throw .malformedResponse(.createPartitions, reason: "no result for topic \"\(name)\"")
        }
        if let error = StromClientError.check(result.errorCode, resource: "topic \"\(name)\"", message: result.errorMessage) { throw error }
    }
}
