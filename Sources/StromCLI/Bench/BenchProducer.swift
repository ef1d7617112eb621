import Foundation
import KafkaProtocol
import NIOCore
import StromClient
import Synchronization

/// The throughput producer of `strom bench produce`: sends `recordCount` records of the payload
/// as fast as the broker takes them.
///
/// Record `i` goes to partition `i % partitionCount` and carries the payload's value `i`. Each
/// leader's partitions form a lane (``BenchLane``) run by one loop that fills one batch per
/// partition, sends the lane's batches in one Produce request, and keeps up to
/// ``inFlightRequestsMax`` requests outstanding on the lane's connection (the connection
/// pipelines them). A request goes out when its batches hold ``recordsPerBatchMax`` records, when
/// the records run out, or — once `lingerMs` has passed since it was started and a request slot
/// is free — with what it has (librdkafka's `linger.ms`; checked every ``lingerCheckRounds``
/// rounds). At full speed batches fill long before a few milliseconds pass, so linger matters only
/// with 0 or with slow compression.
///
/// Per record the loop only slices the payload pool and appends to a batch builder; allocations
/// are per batch (the builder's buffer, the compressed and framed copies).
struct BenchProducer: Sendable {
    var topic: BenchTopic
    var payload: BenchPayload
    var acks: ProduceAcks
    var compression: CompressionCodec
    var batchSizeBytes: Int
    var lingerMs: Int
    /// Requests outstanding per connection.
    var inFlightRequestsMax: Int
    /// Produce's `timeoutMs`: how long the broker may wait for acks=all.
    var produceTimeoutMs: Int32 = 30_000

    /// A record's framing inside a v2 batch, at most: length varint (5), attributes (1), timestamp
    /// delta (1: every record of a request has the same timestamp), offset delta varint (5), null
    /// key (1), value length varint (5), header count (1).
    static let recordOverheadBytesMax = 19
    static let lingerCheckRounds = 64

    /// Records per batch: as many as fit `batchSizeBytes` with the batch header, at least one.
    var recordsPerBatchMax: Int {
        Swift.max(1, (batchSizeBytes - RecordBatchHeader.sizeBytes) / (payload.valueSizeBytes + Self.recordOverheadBytesMax))
    }

    struct Figures: Sendable {
        /// Records the broker acknowledged (with acks=0: written to the connection).
        var acknowledged: Int
        var requests: Int
        /// From the first record's batching to the last acknowledgement.
        var elapsedSeconds: Double
    }

    /// - Parameter deadlineNanoseconds: a ``MonotonicClock`` reading after which the run fails.
    /// - Throws: the first failed request's error (a Kafka error code for a partition, a closed
    ///   connection, a timeout), or ``BenchError/timedOut(seconds:activity:)``.
    func run(recordCount: Int, deadlineNanoseconds: Int64, timeoutSeconds: Int) async throws -> Figures {
        let start = MonotonicClock.nowNanoseconds()
        let (acknowledged, requests) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for lane in topic.lanes {
                group.addTask {
                    try await runLane(lane, recordCount: recordCount, deadlineNanoseconds: deadlineNanoseconds, timeoutSeconds: timeoutSeconds)
                }
            }
            var totals = (0, 0)
            for try await (acknowledged, requests) in group {
                totals.0 += acknowledged
                totals.1 += requests
            }
            return totals
        }
        let elapsed = MonotonicClock.seconds(from: start, to: MonotonicClock.nowNanoseconds())
        return Figures(acknowledged: acknowledged, requests: requests, elapsedSeconds: elapsed)
    }

    /// Produces a lane's share of the records; returns (records acknowledged, requests sent).
    private func runLane(
        _ lane: BenchLane, recordCount: Int, deadlineNanoseconds: Int64, timeoutSeconds: Int
    ) async throws -> (Int, Int) {
        let connection = lane.connection
        // v3 is the first version that carries v2 record batches.
        let version = try connection.apiVersions.version(for: ProduceRequest.self, minimum: 3)
        let (name, acks, produceTimeoutMs) = (topic.name, acks, produceTimeoutMs)
        let partitionCount = topic.partitionCount
        let roundCount = (recordCount + partitionCount - 1) / partitionCount
        let recordsPerBatchMax = recordsPerBatchMax
        let lingerNanoseconds = Int64(lingerMs) * 1_000_000
        let window = RequestWindow()

        let (acknowledged, requests) = try await withThrowingTaskGroup(of: Int.self) { group in
            var acknowledged = 0
            var requests = 0
            var unreaped = 0
            var round = 0
            var builders: [RecordBatchBuilder] = []
            builders.reserveCapacity(lane.partitions.count)
            while round < roundCount {
                if MonotonicClock.nowNanoseconds() > deadlineNanoseconds {
                    throw BenchError.timedOut(seconds: timeoutSeconds, activity: "producing")
                }
                // Fill one batch per partition, a round (one record per partition) at a time.
                builders.removeAll(keepingCapacity: true)
                for _ in lane.partitions { builders.append(RecordBatchBuilder(compressionCodec: compression)) }
                let timestampMs = Int64(Date().timeIntervalSince1970 * 1_000)
                let requestStart = MonotonicClock.nowNanoseconds()
                var roundsInRequest = 0
                while round < roundCount && roundsInRequest < recordsPerBatchMax {
                    for slot in lane.partitions.indices {
                        let index = round * partitionCount + Int(lane.partitions[slot])
                        if index < recordCount {
                            builders[slot].append(timestampMs: timestampMs, key: nil, value: payload.value(at: index))
                        }
                    }
                    round += 1
                    roundsInRequest += 1
                    if roundsInRequest % Self.lingerCheckRounds == 0, window.runningCount < inFlightRequestsMax,
                       MonotonicClock.nowNanoseconds() - requestStart >= lingerNanoseconds {
                        break
                    }
                }
                var partitionData: [ProduceRequest.PartitionProduceData] = []
                var recordCounts: [(partition: Int32, count: Int)] = []
                for (slot, partition) in lane.partitions.enumerated() where !builders[slot].isEmpty {
                    partitionData.append(.init(index: partition, records: try builders[slot].build()))
                    recordCounts.append((partition, builders[slot].count))
                }
                guard !partitionData.isEmpty else { continue }
                let request = ProduceRequest(
                    acks: acks.rawValue, timeoutMs: produceTimeoutMs, topicData: [.init(name: name, partitionData: partitionData)])
                // A free slot first: at most inFlightRequestsMax requests outstanding.
                while unreaped >= inFlightRequestsMax, let done = try await group.next() {
                    acknowledged += done
                    unreaped -= 1
                }
                window.started()
                group.addTask {
                    defer { window.finished() }
                    return try await Self.send(
                        request, version: version, recordCounts: recordCounts, topic: name, on: connection,
                        deadlineNanoseconds: deadlineNanoseconds, timeoutSeconds: timeoutSeconds)
                }
                unreaped += 1
                requests += 1
            }
            for try await done in group { acknowledged += done }
            return (acknowledged, requests)
        }
        if acks == .unacknowledged {
            // No answers: one round trip proves the broker processed every request before it
            // (it answers a connection's requests in order), so the time includes the appends.
            _ = try await connection.send(ApiVersionsRequest(clientSoftwareName: "strom", clientSoftwareVersion: "1"))
        }
        return (acknowledged, requests)
    }

    /// Sends one request; returns the records acknowledged, or throws the first partition's error.
    /// The wait for the answer ends at the run's deadline at the latest. The latency run sends
    /// its single-record requests through it too.
    static func send(
        _ request: ProduceRequest, version: Int16, recordCounts: [(partition: Int32, count: Int)], topic: String,
        on connection: KafkaClientConnection, deadlineNanoseconds: Int64, timeoutSeconds: Int
    ) async throws -> Int {
        let total = recordCounts.reduce(0) { $0 + $1.count }
        if request.acks == ProduceAcks.unacknowledged.rawValue {
            try await connection.sendWithoutResponse(request, version: version)
            return total
        }
        let untilDeadline = Duration.nanoseconds(Swift.max(deadlineNanoseconds - MonotonicClock.nowNanoseconds(), 1))
        let response: ProduceResponse
        do {
            response = try await connection.send(
                request, version: version, timeout: Swift.min(connection.requestTimeout + .milliseconds(request.timeoutMs), untilDeadline))
        } catch {
            // Spelled out rather than `catch .timedOut where …`: that pattern on a typed throw
            // crashes Swift 6.3.1's SIL ownership verifier.
            if case .timedOut = error, MonotonicClock.nowNanoseconds() >= deadlineNanoseconds {
                throw BenchError.timedOut(seconds: timeoutSeconds, activity: "waiting for acknowledgements")
            }
            throw error
        }
        let answers = response.responses.filter { $0.name == topic }.flatMap(\.partitionResponses)
        for (partition, _) in recordCounts {
            let resource = "topic \"\(topic)\" partition \(partition)"
            guard let answer = answers.first(where: { $0.index == partition }) else {
                throw StromClientError.malformedResponse(.produce, reason: "no answer for \(resource)")
            }
            if answer.errorCode != KafkaErrorCode.none.rawValue {
                throw StromClientError.kafka(
                    KafkaErrorCode(rawValue: answer.errorCode), resource: resource,
                    message: answer.errorMessage ?? answer.recordErrors.first?.batchIndexErrorMessage)
            }
        }
        return total
    }
}

/// Requests started and not yet finished on one lane, read by the filling loop to decide whether
/// a lingering request may go (its own count only drops when it reaps a finished request).
private final class RequestWindow: Sendable {
    private let running = Atomic<Int>(0)

    func started() { running.add(1, ordering: .relaxed) }
    func finished() { running.subtract(1, ordering: .relaxed) }
    var runningCount: Int { running.load(ordering: .relaxed) }
}
