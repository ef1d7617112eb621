/// Why a benchmark run failed (beyond the client's own errors, which pass through as they are).
/// Every failure makes the command exit 1 and print a `JSON {..., "ok":false, "error":...}` line.
enum BenchError: Error, Equatable, CustomStringConvertible {
    /// `--timeout-s` passed while the run was still `activity`.
    case timedOut(seconds: Int, activity: String)
    /// Fewer acknowledgements than records sent (or, for latency, more).
    case acknowledgementsMissing(acknowledged: Int, expected: Int)
    /// No new record for `--stall-timeout-ms` (or the latency run's drain time) before `expected` were read.
    case lostRecords(consumed: Int, expected: Int, allPartitionsAtEnd: Bool)
    /// A record at or below one already read: a duplicate or a reordering.
    case offsetNotIncreasing(partition: Int32, offset: Int64, nextExpected: Int64)
    /// A value whose size is not `--size` (nil: a null value).
    case wrongValueSize(partition: Int32, offset: Int64, sizeBytes: Int?, expected: Int)
    /// The latency run's consumer saw `received` of its `expected` records by the end of the drain
    /// time (the rest lost), and `duplicates` of them more than once.
    case deliveryFailed(received: Int, expected: Int, duplicates: Int)
    /// The topic is missing or some partition has no leader.
    case topicNotReady(topic: String, reason: String)

    var description: String {
        switch self {
        case .timedOut(let seconds, let activity):
            return "timeout (\(seconds) s) while \(activity)"
        case .acknowledgementsMissing(let acknowledged, let expected):
            return "\(acknowledged) of \(expected) records acknowledged"
        case .lostRecords(let consumed, let expected, let allPartitionsAtEnd):
            let state = allPartitionsAtEnd ? "end of all partitions" : "nothing new"
            return "lost records: \(state) after \(consumed) of \(expected)"
        case .offsetNotIncreasing(let partition, let offset, let nextExpected):
            return "duplicate/out-of-order offset \(offset) on partition \(partition) (expected >= \(nextExpected))"
        case .wrongValueSize(let partition, let offset, let sizeBytes, let expected):
            return "record at \(partition)/\(offset) has \(sizeBytes.map { "\($0) bytes" } ?? "a null value"), expected \(expected)"
        case .deliveryFailed(let received, let expected, let duplicates):
            // kbench's two messages, both when both happened.
            var failures: [String] = []
            if received < expected { failures.append("lost records: consumer saw \(received) of \(expected)") }
            if duplicates > 0 { failures.append("\(duplicates) duplicate records consumed") }
            return failures.joined(separator: "; ")
        case .topicNotReady(let topic, let reason):
            return "topic \(topic) not usable: \(reason)"
        }
    }
}
