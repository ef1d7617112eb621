import Synchronization

/// Records per second into each topic, over the latest interval: the sum of the high watermarks
/// of its partitions held here, sampled every `intervalMs` (the topics page's Records/s). Pure but
/// for its lock; the caller supplies the time.
public final class TopicRates: Sendable {
    public let intervalMs: Int64
    private let samples = Mutex<(earlier: Sample?, later: Sample?)>((nil, nil))

    struct Sample {
        var timeMs: Int64
        var offsets: [String: Int64]
    }

    public init(intervalMs: Int64 = 10_000) {
        precondition(intervalMs > 0)
        self.intervalMs = intervalMs
    }

    public func isDue(nowMs: Int64) -> Bool {
        samples.withLock { samples in samples.later.map { nowMs - $0.timeMs >= intervalMs } ?? true }
    }

    /// Keeps the topics' summed high watermarks now (when an interval has passed).
    public func sample(_ offsets: [String: Int64], nowMs: Int64) {
        samples.withLock { samples in
            if let later = samples.later, nowMs - later.timeMs < intervalMs { return }
            samples = (samples.later, Sample(timeMs: nowMs, offsets: offsets))
        }
    }

    /// Records per second over the latest interval, by topic; topics seen in one sample only
    /// (new, or no partition held here) are absent.
    public func recordsPerSecond() -> [String: Double] {
        let (earlier, later) = samples.withLock { $0 }
        guard let earlier, let later, later.timeMs > earlier.timeMs else { return [:] }
        let seconds = Double(later.timeMs - earlier.timeMs) / 1_000
        var rates: [String: Double] = [:]
        for (topic, offset) in later.offsets {
            guard let before = earlier.offsets[topic] else { continue }
            rates[topic] = Double(max(0, offset - before)) / seconds
        }
        return rates
    }
}
