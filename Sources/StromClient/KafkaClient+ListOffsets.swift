import KafkaProtocol

extension KafkaClient {
    /// Looks up an offset in some partitions of a topic (ListOffsets, to each leader).
    ///
    /// - Parameter partitions: nil asks for every partition of the topic.
    /// - Returns: each partition's answer; a failure carries the broker's error code.
    /// - Throws: when nothing can be asked: an unknown topic, an unsupported ListOffsets version
    ///   (``OffsetSpec/maxTimestamp`` needs v7).
    public func listOffsets(
        topic: String, partitions: [Int32]? = nil, spec: OffsetSpec
    ) async throws(StromClientError) -> [Int32: Result<ListedOffset, StromClientError>] {
        let description = try await topicDescription(topic)
        let wanted = partitions ?? description.partitions.map(\.partition)
        let (byLeader, unroutable) = await partitionsByLeader(topic: description, partitions: wanted)
        var results = unroutable.mapValues { Result<ListedOffset, StromClientError>.failure($0) }
        for (connection, leaderPartitions) in byLeader {
            for (partition, result) in await Self.listOffsets(topic: topic, partitions: leaderPartitions, spec: spec, on: connection) {
                results[partition] = result
                if case .failure(let error) = result { forgetTopic(topic, after: error) }
            }
        }
        return results
    }

    private static func listOffsets(
        topic: String, partitions: [Int32], spec: OffsetSpec, on connection: KafkaClientConnection
    ) async -> [Int32: Result<ListedOffset, StromClientError>] {
        func all(_ error: StromClientError) -> [Int32: Result<ListedOffset, StromClientError>] {
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, .failure(error)) })
        }
        do {
            // v1 answers with one offset and its timestamp (v0 with a list); the max-timestamp
            // look-up arrived in v7 (KIP-734).
            let version = try connection.apiVersions.version(for: ListOffsetsRequest.self, minimum: spec == .maxTimestamp ? 7 : 1)
            let request = ListOffsetsRequest(topics: [
                .init(name: topic, partitions: partitions.map { .init(partitionIndex: $0, timestamp: spec.requestTimestamp) }),
            ])
            let response = try await connection.send(request, version: version)
            let answers = response.topics.filter { $0.name == topic }.flatMap(\.partitions)
            var results: [Int32: Result<ListedOffset, StromClientError>] = [:]
            for partition in partitions {
                guard let answer = answers.first(where: { $0.partitionIndex == partition }) else {
                    results[partition] = .failure(.malformedResponse(.listOffsets, reason: "no answer for topic \"\(topic)\" partition \(partition)"))
                    continue
                }
                if let error = StromClientError.check(answer.errorCode, resource: "topic \"\(topic)\" partition \(partition)") {
                    results[partition] = .failure(error)
                } else {
                    results[partition] = .success(ListedOffset(offset: answer.offset >= 0 ? answer.offset : nil, timestampMs: answer.timestamp))
                }
            }
            return results
        } catch {
            return all(error)
        }
    }
}
