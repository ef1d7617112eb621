import KafkaProtocol
import NIOCore

// Transactions in a partition's log (KIP-98): the last stable offset, the aborted-transaction
// index, and the producer state's snapshots and rebuilds.
//
// - Transactional batches open a transaction for their producer at their first offset; a
//   control batch (a COMMIT or ABORT marker written by the transaction coordinator) ends it.
// - The last stable offset (LSO) is the high watermark, held back to the first offset of the
//   oldest transaction that is open or whose marker is not yet below the high watermark.
//   read_committed consumers read up to it.
// - An ABORT marker adds an ``AbortedTransaction`` to the log's list (kept in memory, sorted by
//   marker offset) and to its segment's `.txnindex`; the next flush writes it (synced) before the
//   recovery point passes the marker. A read_committed fetch returns the aborted transactions its
//   records overlap.
// - The producer state is snapshotted (``ProducerStateSnapshot``) when a segment rolls — taken
//   under the lock, written by the next flush — and when the log closes. Opening a log, and a
//   follower's truncation, start from the newest snapshot at or below the log end and replay
//   the batches after it; the aborted entries at or past it are rebuilt by the replay.
extension PartitionLog {
    /// The control record type of a control batch (its first record's key).
    static func marker(of batch: RecordBatch) -> ControlRecordType? {
        guard batch.header.attributes.isControl, var records = try? batch.records(decompressedSizeBytesMax: 1 << 20) else { return nil }
        return (try? records.next())?.controlType
    }

    /// Sets the last stable offset from the high watermark and the transactions in flight.
    static func refreshLastStable(_ state: inout State) {
        let highWatermark = state.offsets.highWatermark
        let unstable = state.producers.firstUnstableOffset(highWatermark: highWatermark) ?? highWatermark
        state.offsets.lastStableOffset = max(state.offsets.logStartOffset, min(highWatermark, unstable))
    }

    /// Records an appended batch in the producer state; an ABORT marker adds its transaction to
    /// the aborted index.
    static func recordProducerBatch(_ header: RecordBatchHeader, marker: ControlRecordType?, segmentBase: Int64, state: inout State) {
        guard let ended = state.producers.record(header, marker: marker), ended.aborted else { return }
        let stable = state.producers.openTransactions.values.min().map { min($0, header.lastOffset + 1) } ?? header.lastOffset + 1
        let entry = AbortedTransaction(producerId: ended.producerId, firstOffset: ended.firstOffset, lastOffset: ended.markerOffset, lastStableOffset: stable)
        state.abortedTransactions.append(entry)
        state.unindexedAborts.append((segmentBase, entry))
    }

    /// The aborted transactions overlapping `[fromOffset, toOffset)`, oldest marker first.
    static func abortedTransactions(_ state: State, from fromOffset: Int64, to toOffset: Int64) -> [AbortedTransaction] {
        let all = state.abortedTransactions
        var low = 0
        var high = all.count
        while low < high {
            let middle = (low + high) / 2
            if all[middle].lastOffset < fromOffset { low = middle + 1 } else { high = middle }
        }
        return all[low...].filter { $0.firstOffset < toOffset }
    }

    /// The aborted transactions with records in `[fromOffset, toOffset)`.
    public func abortedTransactions(from fromOffset: Int64, to toOffset: Int64) -> [AbortedTransaction] {
        state.withLock { Self.abortedTransactions($0, from: fromOffset, to: toOffset) }
    }

    /// Whether the producer, at this epoch, has a transaction open here.
    public func hasOpenTransaction(producerId: Int64, epoch: Int16) -> Bool {
        state.withLock { $0.producers.hasOpenTransaction(producerId: producerId, epoch: epoch) }
    }

    /// A producer's state here, as DescribeProducers reports it.
    public struct ProducerSummary: Sendable, Equatable {
        public var producerId: Int64
        public var epoch: Int16
        public var lastSequence: Int32
        public var lastOffset: Int64
        public var lastTimestampMs: Int64
        public var coordinatorEpoch: Int32
        /// The first offset of its open transaction, -1 when none.
        public var transactionFirstOffset: Int64
    }

    public var producerSummaries: [ProducerSummary] {
        state.withLock { state in
            state.producers.producers.sorted { $0.key < $1.key }.map { producerId, producer in
                ProducerSummary(
                    producerId: producerId, epoch: producer.epoch, lastSequence: producer.batches.last?.lastSequence ?? -1,
                    lastOffset: producer.batches.last?.lastOffset ?? -1, lastTimestampMs: producer.lastTimestampMs,
                    coordinatorEpoch: producer.coordinatorEpoch,
                    transactionFirstOffset: producer.transactionFirstOffset ?? -1)
            }
        }
    }

    // MARK: Persistence

    /// Writes what the last roll and the markers since the last flush left to write: the
    /// aborted entries to their segments' `.txnindex` and the producer snapshot. Called by
    /// ``flush(nowMs:)`` before the recovery point moves; flushes take turns here so that
    /// entries reach each file in order.
    ///
    /// Never fails the flush (a full disk must not take the partition offline): entries that
    /// cannot be written stay pending for the next flush, and the snapshot is then skipped — a
    /// snapshot newer than an unwritten entry would hide it from a rebuild after a crash. A
    /// snapshot is a shortcut only: without it, opening replays from an older one.
    func writeTransactionFiles() {
        transactionFileWrites.withLock { _ in
            let (aborts, snapshot, counts, segmentBases) = state.withLock { state in
                let aborts = state.unindexedAborts
                state.unindexedAborts = []
                let snapshot = state.pendingSnapshot
                state.pendingSnapshot = nil
                var counts: [Int64: Int] = [:]
                for (base, _) in aborts where counts[base] == nil { counts[base] = state.indexedAbortCounts[base] ?? 0 }
                for (base, _) in aborts { state.indexedAbortCounts[base, default: 0] += 1 }
                return (aborts, snapshot, counts, Set(state.segments.map(\.baseOffset)))
            }
            do throws(StorageIOError) {
                for base in Set(aborts.map(\.0)).sorted() {
                    try TransactionIndexFile(directory: directory, baseOffset: base, fileSystem: fileSystem)
                        .append(aborts.filter { $0.0 == base }.map(\.1), after: counts[base] ?? 0)
                }
            } catch {
                state.withLock { state in
                    state.unindexedAborts = aborts + state.unindexedAborts
                    for (base, _) in aborts { state.indexedAbortCounts[base, default: 1] -= 1 }
                }
                return
            }
            guard let snapshot else { return }
            do throws(StorageIOError) {
                try ProducerStateSnapshot.write(snapshot.producers, directory: directory, offset: snapshot.offset, fileSystem: fileSystem)
                // A snapshot taken at a clean stop has no segment of its own to go with: the newer
                // one supersedes it. Those at segment starts go with their segments.
                for offset in try ProducerStateSnapshot.offsets(directory: directory, fileSystem: fileSystem)
                where offset < snapshot.offset && !segmentBases.contains(offset) {
                    try fileSystem.remove(ProducerStateSnapshot.path(directory: directory, offset: offset))
                }
            } catch {
                try? fileSystem.remove(ProducerStateSnapshot.path(directory: directory, offset: snapshot.offset) + ".tmp")
            }
        }
    }

    /// Rebuilds the producer state and the aborted index for a log whose end is `logEnd`: from
    /// the newest readable snapshot at or below it (snapshots past it describe data the log no
    /// longer has and are removed), then the batches after it. Aborted entries below the
    /// snapshot come from the `.txnindex` files; later ones are rebuilt (files cut to match).
    static func rebuildProducerState(
        _ state: inout State, directory: String, fileSystem: any StorageFileSystem, logEnd: Int64
    ) throws(StorageIOError) {
        var start = state.segments[0].baseOffset
        var producers = ProducerStates()
        for offset in try ProducerStateSnapshot.offsets(directory: directory, fileSystem: fileSystem).reversed() {
            if offset > logEnd {
                try fileSystem.remove(ProducerStateSnapshot.path(directory: directory, offset: offset))
                continue
            }
            if offset >= start, let loaded = ProducerStateSnapshot.read(directory: directory, offset: offset, fileSystem: fileSystem) {
                producers = ProducerStates(producers: loaded)
                start = offset
                break
            }
        }
        state.producers = producers
        state.abortedTransactions = []
        state.unindexedAborts = []
        state.indexedAbortCounts = [:]
        for segment in state.segments {
            let file = TransactionIndexFile(directory: directory, baseOffset: segment.baseOffset, fileSystem: fileSystem)
            let entries = try file.read()
            let kept = entries.filter { $0.lastOffset < start }
            if kept.count != entries.count { try file.write(kept) }
            state.abortedTransactions += kept
            if !kept.isEmpty { state.indexedAbortCounts[segment.baseOffset] = kept.count }
        }
        for segment in state.segments where segment.nextOffset > start {
            try segment.forEachBatchHeader(at: { header, position throws(StorageIOError) in
                guard header.baseOffset >= start, header.baseOffset < logEnd else { return }
                var marker: ControlRecordType?
                if header.attributes.isControl, let batch = try segment.batch(at: position) { marker = Self.marker(of: batch) }
                recordProducerBatch(header, marker: marker, segmentBase: segment.baseOffset, state: &state)
            })
        }
        state.abortedTransactions.sort { $0.lastOffset < $1.lastOffset }
    }
}
