/// A share group's progress, as the lag monitor takes it. A share group commits no offsets: a
/// share-partition's start offset (every record before it is done) and the count of records done
/// after it move as consumers acknowledge. Their pair stands for a committed offset, and a change
/// of it for a commit, dated when this broker first saw it. So STOP (no progress for longer than
/// the window spans, with lag) and WARNING read as for consumer groups; STALL, a commit that does
/// not move, cannot happen.
struct ShareGroupProgress: Sendable {
    struct State: Sendable, Equatable {
        var key: LagMonitor.Key
        var startOffset: Int64
        var completedCount: Int64
    }

    private var seen: [LagMonitor.Key: (state: State, sinceMs: Int64)] = [:]

    /// The states now, as commits: each dated when it last changed. Keys not in `states` are forgotten.
    mutating func commits(_ states: [State], nowMs: Int64) -> [LagMonitor.Commit] {
        var next: [LagMonitor.Key: (state: State, sinceMs: Int64)] = [:]
        let commits = states.map { state in
            let since = seen[state.key].flatMap { $0.state == state ? $0.sinceMs : nil } ?? nowMs
            next[state.key] = (state, since)
            return LagMonitor.Commit(key: state.key, offset: state.startOffset, commitTimestampMs: since, completedAfter: state.completedCount)
        }
        seen = next
        return commits
    }
}
