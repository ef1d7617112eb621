import KafkaProtocol

/// The share-partition states kept in one `__share_group_state` partition, as a pure state
/// machine (the share coordinator's shard): Initialize, Read, Write, Delete and the summary go
/// in; the record that stores each change comes out, for the runtime to append and make durable
/// before it answers. Loading replays the records.
///
/// A write is a delta (Kafka's `StateBatches` laid over the stored ones); it is stored as an
/// update record, and every ``ShareCoordinatorSettings/updateRecordsPerSnapshot`` updates as a
/// whole snapshot. Records before the oldest snapshot any live state still needs are obsolete:
/// ``pruneOffset`` says where the log may start.
struct ShareStateShard: Sendable {
    struct State: Sendable, Equatable {
        /// Moved by an offsets reset or a delete: writes of an older state epoch are fenced.
        var stateEpoch: Int32
        /// The newest leader that read or wrote the state: an older one is fenced.
        var leaderEpoch: Int32
        var snapshotEpoch: UInt16
        var persisted: SharePartition.PersistedState

        var summary: Summary {
            Summary(stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: persisted.startOffset, completedCount: persisted.completedCount)
        }
    }

    /// What ReadShareGroupStateSummary tells (offsets and lag of a share group).
    struct Summary: Sendable, Equatable {
        var stateEpoch: Int32
        var leaderEpoch: Int32
        var startOffset: Int64
        /// Records at or after the start offset that are done.
        var completedCount: Int64
    }

    let updatesPerSnapshot: Int
    private(set) var states: [ShareStateKey: State] = [:]
    private var updatesSinceSnapshot: [ShareStateKey: Int] = [:]
    /// Where each live state's latest snapshot is in the log (known once appended or replayed).
    private var snapshotOffsets: [ShareStateKey: Int64] = [:]
    /// One past the last record seen: with no live state, everything before it is obsolete.
    private var logEndOffset: Int64 = 0

    init(updatesPerSnapshot: Int) {
        self.updatesPerSnapshot = max(1, updatesPerSnapshot)
    }

    /// InitializeShareGroupState: a state with this start offset (and no records in flight);
    /// refused for a state epoch older than the stored one.
    mutating func initialize(_ key: ShareStateKey, stateEpoch: Int32, startOffset: Int64) -> Result<ShareStateRecord, KafkaErrorCode> {
        if let existing = states[key], existing.stateEpoch > stateEpoch { return .failure(.fencedStateEpoch) }
        let state = State(
            stateEpoch: stateEpoch, leaderEpoch: states[key]?.leaderEpoch ?? -1, snapshotEpoch: (states[key]?.snapshotEpoch ?? 0) &+ 1,
            persisted: .init(startOffset: startOffset, batches: []))
        return .success(storeSnapshot(key, state))
    }

    /// ReadShareGroupState by the leader of `leaderEpoch`: the state (nil: none yet, start offset
    /// -1 for the caller), and a record when the leader epoch moved on (so an older leader is
    /// fenced even after a restart).
    mutating func read(_ key: ShareStateKey, leaderEpoch: Int32) -> Result<(State?, ShareStateRecord?), KafkaErrorCode> {
        guard var state = states[key] else { return .success((nil, nil)) }
        guard leaderEpoch >= state.leaderEpoch else { return .failure(.fencedLeaderEpoch) }
        guard leaderEpoch > state.leaderEpoch else { return .success((state, nil)) }
        state.leaderEpoch = leaderEpoch
        return .success((state, storeUpdate(key, state, batches: [], startOffset: -1)))
    }

    /// WriteShareGroupState: `batches` laid over the stored state, the start offset moved (-1:
    /// unchanged). A write without a stored state creates it (the leader initialized it).
    mutating func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) -> Result<ShareStateRecord, KafkaErrorCode> {
        guard var state = states[key] else {
            guard startOffset >= 0 else { return .failure(.invalidRequest) }
            let created = State(
                stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, snapshotEpoch: 1,
                persisted: SharePartition.PersistedState(startOffset: startOffset, batches: []).applying(batches, startOffset: startOffset))
            return .success(storeSnapshot(key, created))
        }
        guard stateEpoch >= state.stateEpoch else { return .failure(.fencedStateEpoch) }
        guard leaderEpoch >= state.leaderEpoch else { return .failure(.fencedLeaderEpoch) }
        // Updates do not carry the state epoch: a new one is stored by a snapshot.
        let epochMoved = stateEpoch != state.stateEpoch
        state.stateEpoch = stateEpoch
        state.leaderEpoch = leaderEpoch
        state.persisted = state.persisted.applying(batches, startOffset: startOffset)
        if epochMoved || updatesSinceSnapshot[key, default: 0] + 1 >= updatesPerSnapshot {
            state.snapshotEpoch &+= 1
            return .success(storeSnapshot(key, state))
        }
        return .success(storeUpdate(key, state, batches: batches, startOffset: startOffset))
    }

    /// DeleteShareGroupState: the state goes (a null snapshot); nil when there was none.
    mutating func delete(_ key: ShareStateKey) -> ShareStateRecord? {
        guard states.removeValue(forKey: key) != nil else { return nil }
        updatesSinceSnapshot.removeValue(forKey: key)
        snapshotOffsets.removeValue(forKey: key)
        return .snapshot(key, nil)
    }

    func summary(_ key: ShareStateKey) -> State? { states[key] }

    // MARK: The log

    /// Tells the shard where a record it returned was appended (its offset, for pruning).
    mutating func appended(_ record: ShareStateRecord, at offset: Int64) {
        logEndOffset = max(logEndOffset, offset + 1)
        if case .snapshot(let key, _?) = record, states[key] != nil { snapshotOffsets[key] = offset }
    }

    /// Applies a record read back from the log (oldest first) at `offset`.
    mutating func replay(_ record: ShareStateRecord, offset: Int64) {
        logEndOffset = max(logEndOffset, offset + 1)
        switch record {
        case .snapshot(let key, let value?):
            states[key] = State(
                stateEpoch: value.stateEpoch, leaderEpoch: value.leaderEpoch, snapshotEpoch: value.snapshotEpoch,
                persisted: .init(startOffset: value.startOffset, batches: value.stateBatches.map(Self.batch)))
            updatesSinceSnapshot[key] = 0
            snapshotOffsets[key] = offset
        case .snapshot(let key, nil), .update(let key, nil):
            states.removeValue(forKey: key)
            updatesSinceSnapshot.removeValue(forKey: key)
            snapshotOffsets.removeValue(forKey: key)
        case .update(let key, let value?):
            // An update without its snapshot (pruned or lost) cannot be applied: skipped.
            guard var state = states[key] else { return }
            state.leaderEpoch = value.leaderEpoch
            state.snapshotEpoch = value.snapshotEpoch
            state.persisted = state.persisted.applying(value.stateBatches.map(Self.batch), startOffset: value.startOffset)
            states[key] = state
            updatesSinceSnapshot[key, default: 0] += 1
        case .other:
            break
        }
    }

    /// Where the log may start: every live state's latest snapshot is at or after it.
    var pruneOffset: Int64 { snapshotOffsets.values.min() ?? logEndOffset }

    // MARK: Records

    private mutating func storeSnapshot(_ key: ShareStateKey, _ state: State) -> ShareStateRecord {
        states[key] = state
        updatesSinceSnapshot[key] = 0
        return .snapshot(key, ShareSnapshotValue(
            snapshotEpoch: state.snapshotEpoch, stateEpoch: state.stateEpoch, leaderEpoch: state.leaderEpoch,
            startOffset: state.persisted.startOffset, stateBatches: state.persisted.batches.map {
                .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryState: $0.state.rawValue, deliveryCount: $0.deliveryCount)
            }))
    }

    private mutating func storeUpdate(
        _ key: ShareStateKey, _ state: State, batches: [SharePartition.PersistedState.Batch], startOffset: Int64
    ) -> ShareStateRecord {
        states[key] = state
        updatesSinceSnapshot[key, default: 0] += 1
        return .update(key, ShareUpdateValue(
            snapshotEpoch: state.snapshotEpoch, leaderEpoch: state.leaderEpoch, startOffset: startOffset,
            stateBatches: batches.map {
                .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryState: $0.state.rawValue, deliveryCount: $0.deliveryCount)
            }))
    }

    static func batch(_ stored: ShareSnapshotValue.StateBatch) -> SharePartition.PersistedState.Batch {
        .init(firstOffset: stored.firstOffset, lastOffset: stored.lastOffset,
              state: SharePartition.RecordState(rawValue: stored.deliveryState) ?? .available, deliveryCount: stored.deliveryCount)
    }

    static func batch(_ stored: ShareUpdateValue.StateBatch) -> SharePartition.PersistedState.Batch {
        .init(firstOffset: stored.firstOffset, lastOffset: stored.lastOffset,
              state: SharePartition.RecordState(rawValue: stored.deliveryState) ?? .available, deliveryCount: stored.deliveryCount)
    }
}
