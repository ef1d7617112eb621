import Synchronization

/// What the broker took in and served over the last hour, for the console's charts: the running
/// totals (records and bytes produced by clients, record bytes fetched by consumers) sampled every
/// `intervalMs`, the newest `capacity` samples kept. Pure but for its lock; the caller supplies
/// the time, so tests drive it on any clock.
public final class ThroughputHistory: Sendable {
    public struct Totals: Sendable, Equatable {
        public var recordsIn: Int
        public var bytesIn: Int
        public var bytesOut: Int

        public init(recordsIn: Int = 0, bytesIn: Int = 0, bytesOut: Int = 0) {
            self.recordsIn = recordsIn
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
        }
    }

    /// The rates over one interval, per second.
    public struct Rate: Sendable, Equatable {
        /// The interval's end.
        public var timeMs: Int64
        public var recordsInPerSecond: Double
        public var bytesInPerSecond: Double
        public var bytesOutPerSecond: Double
    }

    public let intervalMs: Int64
    public let capacity: Int
    private let samples = Mutex<[(timeMs: Int64, totals: Totals)]>([])

    /// - Parameters: intervalMs: how often a sample is kept (10 s); capacity: how many (an hour's).
    public init(intervalMs: Int64 = 10_000, capacity: Int = 361) {
        precondition(intervalMs > 0 && capacity >= 2)
        self.intervalMs = intervalMs
        self.capacity = capacity
    }

    /// Offers the totals now; kept when an interval has passed since the last kept sample.
    public func sample(_ totals: Totals, nowMs: Int64) {
        samples.withLock { samples in
            if let last = samples.last, nowMs - last.timeMs < intervalMs { return }
            samples.append((nowMs, totals))
            if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
        }
    }

    /// The rate of each interval between kept samples, oldest first (a restart of the totals,
    /// never expected, counts as zero).
    public func rates() -> [Rate] {
        let samples = self.samples.withLock { $0 }
        return zip(samples, samples.dropFirst()).map { earlier, later in
            let seconds = Double(later.timeMs - earlier.timeMs) / 1_000
            func rate(_ value: KeyPath<Totals, Int>) -> Double {
                max(0, Double(later.totals[keyPath: value] - earlier.totals[keyPath: value])) / seconds
            }
            return Rate(
                timeMs: later.timeMs, recordsInPerSecond: rate(\.recordsIn), bytesInPerSecond: rate(\.bytesIn),
                bytesOutPerSecond: rate(\.bytesOut))
        }
    }
}
