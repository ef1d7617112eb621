import KafkaProtocol
import PropertyBased
import Testing
@testable import StromBroker

/// The share coordinator's side of share-partition state: deltas, merging, the shard's records,
/// fencing, snapshots and pruning — and, as a property, that what a leader writes as deltas is
/// what the coordinator holds and what a coordinator loading the (pruned) log rebuilds.
@Suite struct ShareStateTests {
    typealias State = SharePartition.PersistedState
    typealias Batch = State.Batch
    let key = ShareStateKey(groupId: "g", topicId: KafkaUUID(high: 1, low: 2), partition: 0)

    @Test func changesAreWhatDiffersAndApplyingThemRebuildsTheState() {
        let before = State(startOffset: 10, batches: [
            .init(firstOffset: 10, lastOffset: 14, state: .available, deliveryCount: 1),
        ])
        let after = State(startOffset: 12, batches: [
            .init(firstOffset: 12, lastOffset: 12, state: .available, deliveryCount: 1),
            .init(firstOffset: 13, lastOffset: 14, state: .acknowledged, deliveryCount: 1),
            .init(firstOffset: 15, lastOffset: 16, state: .available, deliveryCount: 1),
        ])
        let changes = after.changes(since: before)
        #expect(changes == State(startOffset: 12, batches: [
            .init(firstOffset: 13, lastOffset: 14, state: .acknowledged, deliveryCount: 1),
            .init(firstOffset: 15, lastOffset: 16, state: .available, deliveryCount: 1),
        ]))
        #expect(before.applying(changes.batches, startOffset: changes.startOffset) == after)
        #expect(after.changes(since: after).isEmpty(comparedTo: after))
        #expect(after.completedCount == 2)
    }

    @Test func applyingSplitsOverlappedBatchesAndKeepsTheStartWithMinusOne() {
        let stored = State(startOffset: 0, batches: [.init(firstOffset: 0, lastOffset: 9, state: .available, deliveryCount: 1)])
        let merged = stored.applying([.init(firstOffset: 3, lastOffset: 4, state: .archived, deliveryCount: 2)], startOffset: -1)
        #expect(merged == State(startOffset: 0, batches: [
            .init(firstOffset: 0, lastOffset: 2, state: .available, deliveryCount: 1),
            .init(firstOffset: 3, lastOffset: 4, state: .archived, deliveryCount: 2),
            .init(firstOffset: 5, lastOffset: 9, state: .available, deliveryCount: 1),
        ]))
    }

    @Test func olderLeadersAndStateEpochsAreFenced() throws {
        var shard = ShareStateShard(updatesPerSnapshot: 500)
        _ = try shard.write(key, stateEpoch: 0, leaderEpoch: 3, startOffset: 0, batches: []).get()
        #expect(throws: KafkaErrorCode.fencedLeaderEpoch) { try shard.write(key, stateEpoch: 0, leaderEpoch: 2, startOffset: 5, batches: []).get() }
        #expect(throws: KafkaErrorCode.fencedLeaderEpoch) { try shard.read(key, leaderEpoch: 2).get() }
        // A new leader's read fences the old one, and is stored (it must survive a reload).
        let (state, record) = try shard.read(key, leaderEpoch: 4).get()
        #expect(state?.leaderEpoch == 4 && record != nil)
        #expect(throws: KafkaErrorCode.fencedLeaderEpoch) { try shard.write(key, stateEpoch: 0, leaderEpoch: 3, startOffset: 5, batches: []).get() }
        // An offsets reset moves the state epoch: writes of the old one are fenced.
        _ = try shard.initialize(key, stateEpoch: 1, startOffset: 100).get()
        #expect(throws: KafkaErrorCode.fencedStateEpoch) { try shard.write(key, stateEpoch: 0, leaderEpoch: 4, startOffset: 101, batches: []).get() }
        #expect(shard.summary(key)?.persisted.startOffset == 100)
        #expect(try shard.read(ShareStateKey(groupId: "other", topicId: key.topicId, partition: 0), leaderEpoch: 0).get().0 == nil)
    }

    @Test func everyNthWriteIsASnapshotAndThePruneOffsetFollowsTheOldestNeededSnapshot() throws {
        var shard = ShareStateShard(updatesPerSnapshot: 3)
        let other = ShareStateKey(groupId: "g2", topicId: key.topicId, partition: 1)
        var offset: Int64 = 0
        func write(_ key: ShareStateKey, start: Int64) throws -> ShareStateRecord {
            let record = try shard.write(key, stateEpoch: 0, leaderEpoch: 0, startOffset: start, batches: []).get()
            shard.appended(record, at: offset)
            offset += 1
            return record
        }
        guard case .snapshot = try write(key, start: 0) else { Issue.record("the first write is a snapshot"); return }
        guard case .snapshot = try write(other, start: 0) else { Issue.record("the first write is a snapshot"); return }
        guard case .update = try write(key, start: 1), case .update = try write(key, start: 2) else { Issue.record("then updates"); return }
        #expect(shard.pruneOffset == 0)
        guard case .snapshot = try write(key, start: 3) else { Issue.record("the third update is a snapshot"); return }
        #expect(shard.pruneOffset == 1, "the other key's snapshot at 1 is still needed")
        _ = shard.delete(other)
        #expect(shard.pruneOffset == 4, "only the latest snapshot of the remaining key")
    }

    @Test func recordsRoundTripThroughTheirBytes() throws {
        let records: [ShareStateRecord] = [
            .snapshot(key, ShareSnapshotValue(snapshotEpoch: 2, stateEpoch: 1, leaderEpoch: 3, startOffset: 7, stateBatches: [
                .init(firstOffset: 7, lastOffset: 9, deliveryState: 2, deliveryCount: 1),
            ])),
            .update(key, ShareUpdateValue(snapshotEpoch: 2, leaderEpoch: 3, startOffset: -1, stateBatches: [])),
            .snapshot(key, nil),
        ]
        for record in records {
            let (keyBytes, valueBytes) = try record.encoded()
            #expect(try ShareStateRecord.decode(key: keyBytes, value: valueBytes) == record)
        }
    }

    // MARK: Property

    /// A leader runs a share-partition (the steps of ``SharePartitionTests``) and writes what
    /// changed after each step; the coordinator's state always equals the leader's persisted
    /// state, and a coordinator that loads the records from the prune offset on has it too.
    @Test func deltasWrittenAreTheStateAndTheLogRebuildsIt() async {
        await propertyCheck(count: 200, input: SharePartitionTests.step.array(of: 0...60)) { steps in
            let settings = SharePartition.Settings(lockDurationMs: 30_000, deliveryCountLimit: 3, recordLocksMax: 8)
            var partition = SharePartition(startOffset: 0, settings: settings)
            var shard = ShareStateShard(updatesPerSnapshot: 4)
            var log: [(offset: Int64, record: ShareStateRecord)] = []
            var written = partition.persistedState
            var logEndOffset: Int64 = 0
            var nowMs: Int64 = 0
            func append(_ record: ShareStateRecord) {
                let offset = Int64(log.count)
                log.append((offset, record))
                shard.appended(record, at: offset)
            }
            append(try! shard.write(key, stateEpoch: 0, leaderEpoch: 0, startOffset: 0, batches: []).get())
            for step in steps {
                switch step {
                case .produce(let count): logEndOffset += Int64(count)
                case .fetch(let member, let recordsMax):
                    _ = partition.acquire(memberId: "m\(member)", logEndOffset: logEndOffset, recordsMax: recordsMax, nowMs: nowMs)
                case .acknowledge(let member, let type, let count):
                    let mine = partition.records.indices.filter { partition.records[$0].memberId == "m\(member)" }.prefix(count)
                    for index in mine {
                        let offset = partition.startOffset + Int64(index)
                        try? partition.acknowledge(memberId: "m\(member)", firstOffset: offset, lastOffset: offset, type: type, nowMs: nowMs)
                    }
                case .tick(let milliseconds):
                    nowMs += milliseconds
                    partition.expireLocks(nowMs: nowMs)
                case .leave(let member): partition.releaseAll(memberId: "m\(member)")
                case .recover:
                    // A new leader: what the coordinator holds.
                    partition = SharePartition(shard.summary(key)!.persisted, settings: settings)
                    written = partition.persistedState
                }
                let target = partition.persistedState
                let changes = target.changes(since: written)
                if !changes.isEmpty(comparedTo: written) {
                    let start = changes.startOffset == written.startOffset ? -1 : changes.startOffset
                    append(try! shard.write(key, stateEpoch: 0, leaderEpoch: 0, startOffset: start, batches: changes.batches).get())
                    written = target
                }
                #expect(SharePartition(shard.summary(key)!.persisted, settings: settings).persistedState == target, "coordinator differs: \(steps)")
                var loaded = ShareStateShard(updatesPerSnapshot: 4)
                for entry in log where entry.offset >= shard.pruneOffset { loaded.replay(entry.record, offset: entry.offset) }
                #expect(loaded.summary(key)?.persisted == shard.summary(key)?.persisted, "the pruned log rebuilds another state: \(steps)")
            }
        }
    }
}
