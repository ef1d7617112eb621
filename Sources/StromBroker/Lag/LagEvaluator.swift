/// A partition's status for one group, by Burrow's rules (its "consumer lag evaluation rules").
public enum PartitionLagStatus: String, Sendable, Comparable, CaseIterable {
    /// Caught up, or making progress against the lag.
    case ok = "OK"
    /// Committing and moving, but the lag never shrank over the window.
    case warning = "WARNING"
    /// Committing, but the committed offset never moved while there was lag.
    case stall = "STALL"
    /// Not committing for longer than the window spans, with lag.
    case stop = "STOP"
    /// The committed offset went back.
    case rewind = "REWIND"

    var severity: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .stall, .stop, .rewind: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.severity, lhs.rawValue) < (rhs.severity, rhs.rawValue)
    }
}

/// A group's status: the worst of its partitions (Burrow's group statuses).
public enum GroupLagStatus: String, Sendable {
    case ok = "OK"
    case warning = "WARNING"
    /// Some partition is stalled, stopped or rewound.
    case error = "ERROR"

    public init(partitions: some Sequence<PartitionLagStatus>) {
        switch partitions.map(\.severity).max() ?? 0 {
        case 0: self = .ok
        case 1: self = .warning
        default: self = .error
        }
    }
}

/// Burrow's evaluation of one window, pure: nothing but the samples, the log end now and the time.
public enum LagEvaluator {
    /// The status of `window` given the partition's log end offset now.
    ///
    /// In order: no lag now, or no commit yet → OK. No commit for longer than the window spans →
    /// STOP. A window in which some commit had no lag → OK (the group keeps up at times). Else: an
    /// offset that went back → REWIND; offset unchanged over the window → STALL; lag never shrinking
    /// from one commit to the next → WARNING; otherwise OK. Burrow checks the zero-lag commit first,
    /// which leaves a group that kept up and then died OK for good; Strom puts STOP before it, so
    /// that commits stopping while there is lag always show. A window is taken to span at least
    /// what a full one at the minimum distance would (9 s with Burrow's defaults): a group that
    /// committed once and died is STOP, but one that commits every 5 s (librdkafka's auto commit)
    /// is not called stopped between its first commits. Trends need two commits at least.
    public static func status(of window: LagWindow, logEndOffset: Int64, nowMs: Int64) -> PartitionLagStatus {
        let samples = window.samples
        guard let first = samples.first, let last = samples.last, logEndOffset - last.offset > 0 else { return .ok }
        let span = max(last.timeMs - first.timeMs, window.minimumDistanceMs * Int64(window.capacity - 1))
        if nowMs - last.timeMs > span { return .stop }
        guard samples.count >= 2, samples.allSatisfy({ $0.lag > 0 }) else { return .ok }
        if zip(samples, samples.dropFirst()).contains(where: { $1.offset < $0.offset }) { return .rewind }
        if samples.allSatisfy({ $0.offset == first.offset }) { return .stall }
        if zip(samples, samples.dropFirst()).allSatisfy({ $1.lag >= $0.lag }) { return .warning }
        return .ok
    }
}
