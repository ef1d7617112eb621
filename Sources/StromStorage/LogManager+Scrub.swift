import Synchronization

/// The background integrity check: flushed segments are re-read and checked a slice per round,
/// log after log, so that damage to acknowledged data (bit rot, a stray write) takes its
/// partition offline with KAFKA_STORAGE_ERROR instead of being served to consumers (which may
/// not check CRCs). Paced by bytes, so large segments do not turn it into a read storm.
extension LogManager {
    /// Where the next round continues, and how many bytes it may read (credit accrues per round
    /// and a large segment drives it negative, which skips rounds).
    final class ScrubCursor: Sendable {
        struct Position {
            var partition: TopicPartition?
            var segment = 0
            var creditBytes: Int64 = 0
        }

        let position = Mutex(Position())
    }

    /// Checks flushed segments worth `bytesPerRound` on average, one segment at a time,
    /// continuing where the last round stopped.
    /// - Returns: the partitions found damaged (now offline), with where.
    @discardableResult
    public func scrubRound(bytesPerRound: Int64 = 32 << 20) -> [(TopicPartition, String)] {
        let logs = allLogs.sorted { $0.topicPartition < $1.topicPartition }
        guard !logs.isEmpty else { return [] }
        var cursor = scrubCursor.position.withLock { $0 }
        cursor.creditBytes = min(cursor.creditBytes + bytesPerRound, bytesPerRound)
        var index = cursor.partition.flatMap { partition in logs.firstIndex { $0.topicPartition == partition } } ?? 0
        if cursor.partition != logs[index].topicPartition { cursor.segment = 0 }
        var damaged: [(TopicPartition, String)] = []
        var visited = 0
        while cursor.creditBytes > 0, visited < logs.count {
            let log = logs[index]
            var next = 0
            if log.offlineReason == nil, let (report, after) = try? log.scrub(fromSegment: cursor.segment, segmentsMax: 1) {
                cursor.creditBytes -= max(report.bytesChecked, 1)
                if let corruption = report.corruption { damaged.append((log.topicPartition, corruption)) }
                next = report.corruption == nil ? after : 0
            }
            if next != 0 {
                cursor.segment = next
            } else {
                index = (index + 1) % logs.count
                cursor.segment = 0
                visited += 1
            }
        }
        cursor.partition = logs[index].topicPartition
        scrubCursor.position.withLock { $0 = cursor }
        return damaged
    }
}
