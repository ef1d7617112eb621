/// The four offsets every handler relies on, always ordered
/// logStartOffset ≤ lastStableOffset ≤ highWatermark ≤ logEndOffset.
public struct PartitionOffsets: Sendable, Hashable, CustomStringConvertible {
    /// First offset a consumer can read (moves with retention and DeleteRecords).
    public var logStartOffset: Int64
    /// Consumers in read_committed read up to here (equal to the high watermark until transactions).
    public var lastStableOffset: Int64
    /// Consumers read up to here: on one broker, data that satisfies the flush policy; in a
    /// cluster, data every in-sync replica has.
    public var highWatermark: Int64
    /// The offset the next appended record gets.
    public var logEndOffset: Int64

    public var description: String {
        "logStart \(logStartOffset) lastStable \(lastStableOffset) highWatermark \(highWatermark) logEnd \(logEndOffset)"
    }
}
