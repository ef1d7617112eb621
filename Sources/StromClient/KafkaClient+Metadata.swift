import KafkaProtocol

extension KafkaClient {
    /// Asks the bootstrap broker for brokers and topics, and caches the answer for routing.
    ///
    /// - Parameters:
    ///   - topics: the topics to describe; nil describes every topic.
    ///   - allowAutoTopicCreation: lets the broker create missing topics (Metadata v4+).
    /// - Returns: the brokers and topics; a topic the broker could not describe carries its error code.
    public func metadata(topics: [String]? = nil, allowAutoTopicCreation: Bool = false) async throws(StromClientError) -> ClusterDescription {
        let version = try bootstrap.apiVersions.version(for: MetadataRequest.self)
        var request = MetadataRequest(topics: topics.map { $0.map { MetadataRequest.MetadataRequestTopic(name: $0) } })
        // v0 means "every topic" with an empty list (null arrived in v1), and the auto-create
        // flag exists from v4 (before, brokers decided alone).
        if version == 0 && topics == nil { request.topics = [] }
        if version >= 4 { request.allowAutoTopicCreation = allowAutoTopicCreation }
        let cluster = ClusterDescription(try await bootstrap.send(request, version: version))
        remember(cluster)
        return cluster
    }

    /// Every topic's name and partitions, sorted by name.
    public func listTopics() async throws(StromClientError) -> [TopicDescription] {
        try await metadata(topics: nil).topics
    }

    /// One topic's partitions, leaders, replicas and in-sync replicas, freshly asked for.
    /// - Throws: the topic's error (UNKNOWN_TOPIC_OR_PARTITION, ...) as ``StromClientError/kafka(_:resource:message:)``.
    public func describeTopic(_ name: String) async throws(StromClientError) -> TopicDescription {
        forgetTopics([name])
        return try await topicDescription(name)
    }
}
