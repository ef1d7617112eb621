import Synchronization

/// Each coordinated group's total lag over the last hour, for the console's per-group chart: the
/// lag in records (summed over its partitions) and in time (its worst partition's) every
/// `intervalMs`, the newest `capacity` points kept. A group that is no longer coordinated here
/// is dropped at the next sample. Pure but for its lock; the caller supplies the time.
public final class GroupLagHistory: Sendable {
    public struct Point: Sendable, Equatable {
        public var timeMs: Int64
        public var lag: Int64
        /// nil when no partition's time lag is known yet.
        public var timeLagSeconds: Double?

        public init(timeMs: Int64, lag: Int64, timeLagSeconds: Double?) {
            self.timeMs = timeMs
            self.lag = lag
            self.timeLagSeconds = timeLagSeconds
        }
    }

    public let intervalMs: Int64
    public let capacity: Int
    private let state = Mutex<(lastMs: Int64?, points: [String: [Point]])>((nil, [:]))

    public init(intervalMs: Int64 = 10_000, capacity: Int = 361) {
        precondition(intervalMs > 0 && capacity >= 2)
        self.intervalMs = intervalMs
        self.capacity = capacity
    }

    /// Whether an interval has passed since the last kept sample (computing the lag costs a pass
    /// over every committed partition; callers ask first).
    public func isDue(nowMs: Int64) -> Bool {
        state.withLock { state in state.lastMs.map { nowMs - $0 >= intervalMs } ?? true }
    }

    /// Keeps one point per group in `views` (the groups coordinated here now).
    public func sample(_ views: [GroupLagView], nowMs: Int64) {
        state.withLock { state in
            if let last = state.lastMs, nowMs - last < intervalMs { return }
            state.lastMs = nowMs
            var kept: [String: [Point]] = [:]
            for view in views {
                var points = state.points[view.group] ?? []
                let timeLags = view.partitions.compactMap(\.timeLagSeconds)
                points.append(Point(timeMs: nowMs, lag: view.partitions.reduce(0) { $0 + $1.lag }, timeLagSeconds: timeLags.max()))
                if points.count > capacity { points.removeFirst(points.count - capacity) }
                kept[view.group] = points
            }
            state.points = kept
        }
    }

    /// The group's points, oldest first; empty for a group not coordinated here.
    public func points(group: String) -> [Point] {
        state.withLock { $0.points[group] ?? [] }
    }
}
