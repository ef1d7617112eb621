import KafkaProtocol
import NIOCore
import StromStorage

/// Fetch: reads whole batches from each partition up to its high watermark (read_committed: its
/// last stable offset, with the aborted transactions the records overlap), within the request's
/// byte limits (KIP-74: the first batch is returned whole even when larger), and long-polls:
/// when less than `minBytes` is available, waits for that offset to move or `maxWaitMs` to
/// pass. Fetch sessions are not kept: every response says session 0 ("no session"), so clients
/// send full fetch requests.
///
/// The handler leaves the records where they are: each partition's data is a list of segment
/// file slices (``FetchResult``), which the broker sends with sendfile or copies (see
/// ``FetchResponseSplicer``).
struct FetchHandler: Sendable {
    let partitions: any PartitionDirectory
    let waiters: HighWatermarkWaiters
    /// Upper bound on `maxWaitMs` a client may ask for.
    let maxWaitMsMax: Int32 = 30_000
    /// `fetch.max.bytes`: the most record bytes in one response, whatever the request asks.
    var responseBytesMax = 57_671_680
    /// In a cluster: who leads what (only a partition's leader answers a consumer). Nil alone.
    var replicas: ReplicaManager?

    /// The response with its records copied into it (tests, and connections that cannot send files).
    func handle(_ request: FetchRequest, version: Int16) async -> FetchResponse {
        await fetch(request, version: version).copyingRecords()
    }

    /// The response and, per partition that has data, the file slices holding its records.
    func fetch(_ request: FetchRequest, version: Int16) async -> FetchResult {
        let usesTopicIds = version >= 13
        // Resolve every requested partition once.
        var targets: [(topicIndex: Int, partitionIndex: Int, topicPartition: TopicPartition?, log: PartitionLog?)] = []
        var response = FetchResponse(errorCode: 0, sessionId: 0, responses: [])
        for (topicIndex, topic) in request.topics.enumerated() {
            let name = usesTopicIds ? partitions.topicName(id: topic.topicId) : topic.topic
            response.responses.append(.init(
                topic: usesTopicIds ? "" : topic.topic, topicId: usesTopicIds ? topic.topicId : partitions.topicId(name: topic.topic) ?? .zero,
                partitions: topic.partitions.map {
                    .init(partitionIndex: $0.partition, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: ByteBuffer())
                }))
            for (partitionIndex, partition) in topic.partitions.enumerated() {
                let log = name.flatMap { partitions.log(topic: $0, partition: partition.partition) }
                let topicPartition = name.map { TopicPartition(topic: $0, partition: partition.partition) }
                if log != nil, let replicas, let topicPartition,
                   let error = replicas.leaderError(topicPartition, currentLeaderEpoch: partition.currentLeaderEpoch) {
                    response.responses[topicIndex].partitions[partitionIndex].errorCode = error.rawValue
                    targets.append((topicIndex, partitionIndex, topicPartition, nil))
                    continue
                }
                targets.append((topicIndex, partitionIndex, topicPartition, log))
                if log == nil {
                    let hostedElsewhere = replicas != nil && name.map { partitions.partitionExists(topic: $0, partition: partition.partition) } == true
                    let code: KafkaErrorCode = hostedElsewhere ? .notLeaderOrFollower : usesTopicIds && name == nil ? .unknownTopicId : .unknownTopicOrPartition
                    response.responses[topicIndex].partitions[partitionIndex].errorCode = code.rawValue
                }
            }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(min(max(request.maxWaitMs, 0), maxWaitMsMax)))
        let committedOnly = request.isolationLevel == 1
        while true {
            var records: [FetchResult.PartitionRecords] = []
            let seenHighWatermarks = read(request, targets: targets, into: &response, records: &records)
            let bytes = records.reduce(0) { $0 + $1.sizeBytes }
            let result = FetchResult(response: response, records: records)
            if bytes >= max(Int(request.minBytes), 1) || clock.now >= deadline { return result }
            let watched = Set(targets.compactMap { $0.log == nil ? nil : $0.topicPartition })
            if watched.isEmpty { return result }
            let logs = targets.compactMap { target in target.log.map { (target.topicPartition, $0) } }
            await waiters.wait(for: watched, timeout: deadline - clock.now) {
                logs.contains { entry in
                    let offsets = entry.1.offsets
                    return (committedOnly ? offsets.lastStableOffset : offsets.highWatermark) > (seenHighWatermarks[entry.0!] ?? -1)
                }
            }
            if Task.isCancelled { return FetchResult(response: response, records: []) }
        }
    }

    /// One pass over every partition; returns the high watermarks (read_committed: last stable
    /// offsets) it saw.
    private func read(
        _ request: FetchRequest, targets: [(topicIndex: Int, partitionIndex: Int, topicPartition: TopicPartition?, log: PartitionLog?)],
        into response: inout FetchResponse, records: inout [FetchResult.PartitionRecords]
    ) -> [TopicPartition: Int64] {
        var remaining = min(Int(request.maxBytes), responseBytesMax)
        var seen: [TopicPartition: Int64] = [:]
        let committedOnly = request.isolationLevel == 1
        for target in targets {
            guard let log = target.log, let topicPartition = target.topicPartition else { continue }
            let partition = request.topics[target.topicIndex].partitions[target.partitionIndex]
            var result = response.responses[target.topicIndex].partitions[target.partitionIndex]
            // Kafka sends an empty record set, never a null one: librdkafka before 2.2 rejects
            // a null set ("invalid MessageSetSize -1").
            result.records = ByteBuffer()
            result.errorCode = 0
            let anyDataYet = Int(request.maxBytes) > remaining
            do throws(LogReadError) {
                let info = try log.read(
                    from: partition.fetchOffset, maxBytes: min(Int(partition.partitionMaxBytes), max(remaining, 0)),
                    minOneBatch: !anyDataYet, committedOnly: committedOnly)
                result.highWatermark = info.offsets.highWatermark
                result.lastStableOffset = info.offsets.lastStableOffset
                result.logStartOffset = info.offsets.logStartOffset
                result.abortedTransactions = info.abortedTransactions?.map { .init(producerId: $0.producerId, firstOffset: $0.firstOffset) }
                seen[topicPartition] = committedOnly ? info.offsets.lastStableOffset : info.offsets.highWatermark
                if !info.slices.isEmpty {
                    remaining -= info.sizeBytes
                    records.append(.init(topicIndex: target.topicIndex, partitionIndex: target.partitionIndex, slices: info.slices))
                }
            } catch {
                result.errorCode = error.kafkaErrorCode.rawValue
                let offsets = log.offsets
                result.highWatermark = offsets.highWatermark
                result.lastStableOffset = offsets.lastStableOffset
                result.logStartOffset = offsets.logStartOffset
                result.abortedTransactions = committedOnly ? [] : nil
                seen[topicPartition] = committedOnly ? offsets.lastStableOffset : offsets.highWatermark
            }
            response.responses[target.topicIndex].partitions[target.partitionIndex] = result
        }
        return seen
    }
}
