import Foundation
import KafkaProtocol
import NIOCore
import StromClient

/// The latency benchmark of `strom bench latency`: one producer paced at `rate` records per
/// second and one consumer, in this process, on separate connections (a consumer's long poll
/// would otherwise hold up the produce answers behind it).
///
/// Record `i` is due at start + i/rate; the producer sleeps until then (a late record goes at
/// once: sends are late, not queued, so a slow broker shows as a lower achieved rate, not as
/// hidden latency), stamps the value with ``LatencyStamp`` (this run's nonce, `i`, the time) and
/// sends it alone in a Produce request to partition `i % partitionCount` — kbench's `linger.ms`
/// 0. `ack` = the Produce response's arrival − the stamp; `e2e` = the consumer's receipt − the
/// stamp. The first `warmupRecordCount` records are sent and checked but not counted.
///
/// The consumer starts at each partition's end before the first send, and stops once every
/// record arrived, or ``drainTimeoutMs`` after the last acknowledgement (then records were lost).
struct BenchLatencyRun: Sendable {
    var topic: BenchTopic
    var payload: BenchPayload
    var acks: ProduceAcks
    var compression: CompressionCodec
    var rate: Int
    var warmupRecordCount: Int
    var measuredRecordCount: Int
    var fetchWaitMs: Int
    /// How long the consumer waits for stragglers after the last acknowledgement (kbench: 15 s).
    var drainTimeoutMs: Int
    var produceTimeoutMs: Int32 = 30_000

    var recordCount: Int { warmupRecordCount + measuredRecordCount }

    struct Figures: Sendable {
        var rateAchieved: Double
        var endToEnd: LatencyPercentiles
        var acknowledgement: LatencyPercentiles
        var foreign: Int
    }

    /// - Parameter consumerClient: a client of its own for the consumer.
    /// - Throws: the first failed request's error, ``BenchError/acknowledgementsMissing(acknowledged:expected:)``,
    ///   ``BenchError/deliveryFailed(received:expected:duplicates:)``, ``BenchError/timedOut(seconds:activity:)``.
    func run(consumerClient: KafkaClient, deadlineNanoseconds: Int64, timeoutSeconds: Int) async throws -> Figures {
        let partitions = Array(0..<Int32(topic.partitionCount))
        let starts = try await BenchConsumer.offsets(
            consumerClient.listOffsets(topic: topic.name, partitions: partitions, spec: .latest), topic: topic.name)
        let ledger = LatencyLedger(recordCount: recordCount, nonce: UInt32.random(in: .min ... .max))
        // Producer and consumer side by side; the first to fail cancels the other.
        let sends = try await withThrowingTaskGroup(of: SendTimes?.self) { group in
            group.addTask {
                try await consume(
                    client: consumerClient, from: starts, ledger: ledger, deadlineNanoseconds: deadlineNanoseconds,
                    timeoutSeconds: timeoutSeconds)
                return nil
            }
            group.addTask {
                try await produce(ledger: ledger, deadlineNanoseconds: deadlineNanoseconds, timeoutSeconds: timeoutSeconds)
            }
            var sends = SendTimes(firstMeasured: 0, last: 0)
            for try await result in group {
                if let result { sends = result }
            }
            return sends
        }
        let state = ledger.snapshot
        if state.acknowledged != recordCount {
            throw BenchError.acknowledgementsMissing(acknowledged: state.acknowledged, expected: recordCount)
        }
        if state.received != recordCount || state.duplicates > 0 {
            throw BenchError.deliveryFailed(received: state.received, expected: recordCount, duplicates: state.duplicates)
        }
        guard let endToEnd = LatencyPercentiles(nanoseconds: state.endToEnd[warmupRecordCount...]),
              let acknowledgement = LatencyPercentiles(nanoseconds: state.acknowledgement[warmupRecordCount...])
        else {
            preconditionFailure("no measured records: the command validates rate x duration >= 1")
        }
        let rateAchieved = measuredRecordCount > 1
            ? Double(measuredRecordCount - 1) / MonotonicClock.seconds(from: sends.firstMeasured, to: sends.last)
            : Double(rate)
        return Figures(rateAchieved: rateAchieved, endToEnd: endToEnd, acknowledgement: acknowledgement, foreign: state.foreign)
    }

    /// The send times (``MonotonicClock``) of the first measured record and of the last record.
    private struct SendTimes: Sendable {
        var firstMeasured: Int64
        var last: Int64
    }

    /// Sends every record on schedule, each in its own request, and waits for every answer.
    private func produce(ledger: LatencyLedger, deadlineNanoseconds: Int64, timeoutSeconds: Int) async throws -> SendTimes {
        var routes: [(connection: KafkaClientConnection, version: Int16)?] = Array(repeating: nil, count: topic.partitionCount)
        for lane in topic.lanes {
            let version = try lane.connection.apiVersions.version(for: ProduceRequest.self, minimum: 3)
            for partition in lane.partitions { routes[Int(partition)] = (lane.connection, version) }
        }
        let (name, acks, produceTimeoutMs, recordCount) = (topic.name, acks, produceTimeoutMs, recordCount)
        // Task-per-request with results discarded: nothing accumulates over a long run, and the
        // first failure cancels the rest (the sleeping pacer included).
        return try await withThrowingDiscardingTaskGroup { group in
            let clock = ContinuousClock()
            let start = clock.now + .milliseconds(10)
            var firstMeasured: Int64 = 0
            var last: Int64 = 0
            for sequence in 0..<recordCount {
                let due = start + .nanoseconds(Int64((Double(sequence) * 1e9 / Double(rate)).rounded()))
                if due > clock.now { try await Task.sleep(until: due, tolerance: .zero, clock: clock) }
                let sentAt = MonotonicClock.nowNanoseconds()
                if sentAt > deadlineNanoseconds { throw BenchError.timedOut(seconds: timeoutSeconds, activity: "sending") }
                if sequence == warmupRecordCount { firstMeasured = sentAt }
                last = sentAt
                let partition = sequence % topic.partitionCount
                guard let route = routes[partition] else {
                    preconditionFailure("partition \(partition) has no lane: BenchTopic routes every partition")
                }
                var value = ByteBuffer()
                value.writeImmutableBuffer(payload.value(at: sequence))
                LatencyStamp(nonce: ledger.nonce, sequence: UInt64(sequence), sendNanoseconds: sentAt).write(into: &value)
                var builder = RecordBatchBuilder(compressionCodec: compression)
                builder.append(timestampMs: Int64(Date().timeIntervalSince1970 * 1_000), key: nil, value: value)
                let request = ProduceRequest(
                    acks: acks.rawValue, timeoutMs: produceTimeoutMs,
                    topicData: [.init(name: name, partitionData: [.init(index: Int32(partition), records: try builder.build())])])
                let (connection, version) = (route.connection, route.version)
                group.addTask {
                    _ = try await BenchProducer.send(
                        request, version: version, recordCounts: [(Int32(partition), 1)], topic: name, on: connection,
                        deadlineNanoseconds: deadlineNanoseconds, timeoutSeconds: timeoutSeconds)
                    let now = MonotonicClock.nowNanoseconds()
                    ledger.recordAcknowledgement(sequence: sequence, nanoseconds: now - sentAt, at: now)
                }
            }
            return SendTimes(firstMeasured: firstMeasured, last: last)
        }
    }

    /// Reads from `starts` until every record arrived, the drain time after the last
    /// acknowledgement ran out, or the deadline.
    private func consume(
        client: KafkaClient, from starts: [Int32: Int64], ledger: LatencyLedger, deadlineNanoseconds: Int64, timeoutSeconds: Int
    ) async throws {
        var positions = starts
        let drainNanoseconds = Int64(drainTimeoutMs) * 1_000_000
        var receipts: [(sequence: Int, nanoseconds: Int64)] = []
        while ledger.receivedCount < ledger.recordCount {
            let now = MonotonicClock.nowNanoseconds()
            if now > deadlineNanoseconds { throw BenchError.timedOut(seconds: timeoutSeconds, activity: "consuming") }
            if let allAcknowledgedAt = ledger.allAcknowledgedAt, now - allAcknowledgedAt > drainNanoseconds { return }
            let fetched = try await client.fetch(topic: topic.name, offsets: positions, maxWaitMs: Int32(fetchWaitMs))
            receipts.removeAll(keepingCapacity: true)
            var foreign = 0
            for partition in fetched {
                let result = try partition.result.get()
                positions[partition.partition] = result.nextOffset
                for record in result.records {
                    let receivedAt = MonotonicClock.nowNanoseconds()
                    guard let value = record.value, let stamp = LatencyStamp(reading: value), stamp.nonce == ledger.nonce,
                          stamp.sequence < UInt64(ledger.recordCount)
                    else {
                        foreign += 1
                        continue
                    }
                    receipts.append((Int(stamp.sequence), receivedAt - stamp.sendNanoseconds))
                }
            }
            ledger.recordReceipts(receipts, foreign: foreign)
        }
    }
}
