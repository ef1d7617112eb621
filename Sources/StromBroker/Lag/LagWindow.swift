/// One group's progress on one partition as Burrow sees it: the offsets the group committed, each
/// with the partition's log end offset and the time of the commit, the newest `capacity` of them.
public struct LagWindow: Sendable, Equatable {
    public struct Sample: Sendable, Equatable {
        /// The committed offset: the next record the group will read.
        public var offset: Int64
        /// The partition's log end offset when the offset was committed.
        public var logEndOffset: Int64
        public var timeMs: Int64

        public init(offset: Int64, logEndOffset: Int64, timeMs: Int64) {
            self.offset = offset
            self.logEndOffset = logEndOffset
            self.timeMs = timeMs
        }

        /// Records the group had not read at the commit (never negative: a log end not known yet
        /// counts as no lag, Burrow's rule for its -1).
        public var lag: Int64 { max(0, logEndOffset - offset) }
    }

    /// Burrow's `intervals`: how many commits the window keeps (10).
    public let capacity: Int
    /// Burrow's `min-distance`: a commit closer than this to the previous one replaces it, so a
    /// group committing after every record still spans real time in its window (1 s).
    public let minimumDistanceMs: Int64
    /// Oldest first.
    public private(set) var samples: [Sample] = []

    public init(capacity: Int = 10, minimumDistanceMs: Int64 = 1_000) {
        precondition(capacity >= 2, "a window compares at least two commits")
        self.capacity = capacity
        self.minimumDistanceMs = minimumDistanceMs
    }

    /// When the newest sample that was added (not replaced) was taken: the distance counts from it,
    /// or commits 0.9 s apart would replace each other for good.
    private var anchorMs: Int64 = .min

    /// Adds a commit (commits of an unchanged offset too: that is how a stall shows).
    public mutating func record(_ sample: Sample) {
        if !samples.isEmpty, sample.timeMs - anchorMs < minimumDistanceMs {
            samples[samples.count - 1] = sample
        } else {
            samples.append(sample)
            anchorMs = sample.timeMs
        }
        if samples.count > capacity { samples.removeFirst(samples.count - capacity) }
    }
}
