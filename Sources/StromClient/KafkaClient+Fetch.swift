import KafkaProtocol

extension KafkaClient {
    /// Reads records from some partitions of a topic, starting at the given offsets: one Fetch
    /// request per leader, the leaders in parallel. Reads are `read_uncommitted` (no transaction
    /// filtering) and outside any fetch session.
    ///
    /// - Parameters:
    ///   - offsets: the offset to start at, by partition.
    ///   - maxWaitMs: how long the broker may wait for `minBytes` to arrive (a long poll).
    ///   - minBytes: the bytes worth answering with before `maxWaitMs` ends.
    ///   - maxBytes: the answer's size bound (the broker returns at least one batch regardless).
    ///   - partitionMaxBytes: the same, per partition.
    /// - Returns: one entry per partition asked for, sorted by partition; a partition's failure
    ///   carries the broker's error code (OFFSET_OUT_OF_RANGE, NOT_LEADER_OR_FOLLOWER, ...).
    /// - Throws: when nothing can be fetched: an unknown topic, an unsupported Fetch version.
    public func fetch(
        topic: String, offsets: [Int32: Int64], maxWaitMs: Int32 = 500, minBytes: Int32 = 1, maxBytes: Int32 = 50 << 20,
        partitionMaxBytes: Int32 = 1 << 20
    ) async throws(StromClientError) -> [FetchedPartition] {
        let description = try await topicDescription(topic)
        let (byLeader, unroutable) = await partitionsByLeader(topic: description, partitions: offsets.keys.sorted())
        var results = unroutable.map { FetchedPartition(partition: $0.key, result: .failure($0.value)) }
        let parameters = FetchParameters(
            topic: description.name, topicId: description.topicId, maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes,
            partitionMaxBytes: partitionMaxBytes)
        await withTaskGroup(of: [FetchedPartition].self) { group in
            for (connection, partitions) in byLeader {
                let partitionOffsets = partitions.compactMap { partition in offsets[partition].map { (partition: partition, offset: $0) } }
                group.addTask { await Self.fetch(partitionOffsets, parameters, on: connection) }
            }
            for await leaderResults in group { results += leaderResults }
        }
        for result in results {
            if case .failure(let error) = result.result { forgetTopic(topic, after: error) }
        }
        return results.sorted { $0.partition < $1.partition }
    }

    private struct FetchParameters: Sendable {
        var topic: String
        var topicId: KafkaUUID
        var maxWaitMs: Int32
        var minBytes: Int32
        var maxBytes: Int32
        var partitionMaxBytes: Int32
    }

    /// One Fetch request to one leader; every outcome, errors included, lands in the results.
    private static func fetch(
        _ partitionOffsets: [(partition: Int32, offset: Int64)], _ parameters: FetchParameters, on connection: KafkaClientConnection
    ) async -> [FetchedPartition] {
        func all(_ error: StromClientError) -> [FetchedPartition] {
            partitionOffsets.map { FetchedPartition(partition: $0.partition, result: .failure(error)) }
        }
        do {
            // v4 is the first version that returns v2 record batches; v13+ names topics by id,
            // which a broker without topic ids in Metadata (before v10) cannot give.
            var version = try connection.apiVersions.version(for: FetchRequest.self, minimum: 4)
            if parameters.topicId == .zero { version = Swift.min(version, 12) }
            let request = FetchRequest(
                maxWaitMs: parameters.maxWaitMs, minBytes: parameters.minBytes, maxBytes: parameters.maxBytes,
                topics: [
                    .init(
                        topic: parameters.topic, topicId: parameters.topicId,
                        partitions: partitionOffsets.map { .init(partition: $0.partition, fetchOffset: $0.offset, partitionMaxBytes: parameters.partitionMaxBytes) }),
                ])
            let response = try await connection.send(
                request, version: version, timeout: connection.requestTimeout + .milliseconds(parameters.maxWaitMs))
            if let error = StromClientError.check(response.errorCode, resource: "fetch of topic \"\(parameters.topic)\"") {
                return all(error)
            }
            let answers = response.responses
                .filter { version >= 13 ? $0.topicId == parameters.topicId : $0.topic == parameters.topic }
                .flatMap(\.partitions)
            return partitionOffsets.map { partition, offset in
                guard let answer = answers.first(where: { $0.partitionIndex == partition }) else {
                    return FetchedPartition(partition: partition, result: .failure(.malformedResponse(
                        .fetch, reason: "no answer for topic \"\(parameters.topic)\" partition \(partition)")))
                }
                let resource = "topic \"\(parameters.topic)\" partition \(partition)"
                if let error = StromClientError.check(answer.errorCode, resource: resource) {
                    return FetchedPartition(partition: partition, result: .failure(error))
                }
                do throws(StromClientError) {
                    let (records, nextOffset) = try FetchedBatchDecoder.decode(
                        answer.records, topic: parameters.topic, partition: partition, fetchOffset: offset)
                    return FetchedPartition(partition: partition, result: .success(FetchedRecords(
                        records: records, nextOffset: nextOffset, highWatermark: answer.highWatermark, logStartOffset: answer.logStartOffset)))
                } catch {
                    return FetchedPartition(partition: partition, result: .failure(error))
                }
            }
        } catch {
            return all(error)
        }
    }
}
