/// The persisted form of a share-partition and the two operations the leader and the share
/// coordinator need on it: the changes since what was last written (the leader writes only
/// those), and applying such changes to the stored state (the coordinator's merge).
extension SharePartition.PersistedState {
    /// The batches that differ from `previous` (new offsets, changed state or delivery count), with
    /// this state's start offset; empty batches and an unchanged start offset mean nothing to write.
    func changes(since previous: Self) -> Self {
        let old = Self.byOffset(previous.batches, from: startOffset)
        var changed: [Batch] = []
        for batch in batches {
            for offset in batch.firstOffset...batch.lastOffset {
                if let was = old[offset], was.state == batch.state, was.deliveryCount == batch.deliveryCount { continue }
                if var last = changed.last, last.lastOffset == offset - 1, last.state == batch.state, last.deliveryCount == batch.deliveryCount {
                    last.lastOffset = offset
                    changed[changed.count - 1] = last
                } else {
                    changed.append(Batch(firstOffset: offset, lastOffset: offset, state: batch.state, deliveryCount: batch.deliveryCount))
                }
            }
        }
        return Self(startOffset: startOffset, batches: changed)
    }

    /// Records at or after the start offset that are done (acknowledged or archived): with the
    /// start offset, what a share group's lag leaves out (KIP-1226's DeliveryCompleteCount).
    var completedCount: Int64 {
        batches.reduce(0) { done, batch in
            batch.state == .acknowledged || batch.state == .archived ? done + batch.lastOffset - batch.firstOffset + 1 : done
        }
    }

    /// Whether writing `self` as changes would change nothing (start offset as before, no batch).
    func isEmpty(comparedTo previous: Self) -> Bool { batches.isEmpty && startOffset == previous.startOffset }

    /// `updates` laid over this state (an update's offsets replace what was there), then
    /// everything below `startOffset` dropped (-1: the start offset stays), adjacent equal runs joined.
    func applying(_ updates: [Batch], startOffset newStart: Int64) -> Self {
        let start = newStart >= 0 ? newStart : startOffset
        var merged: [Batch] = []
        for batch in batches {
            var pieces = [batch]
            for update in updates {
                pieces = pieces.flatMap { piece -> [Batch] in
                    guard update.firstOffset <= piece.lastOffset, update.lastOffset >= piece.firstOffset else { return [piece] }
                    var kept: [Batch] = []
                    if piece.firstOffset < update.firstOffset {
                        kept.append(Batch(firstOffset: piece.firstOffset, lastOffset: update.firstOffset - 1, state: piece.state, deliveryCount: piece.deliveryCount))
                    }
                    if piece.lastOffset > update.lastOffset {
                        kept.append(Batch(firstOffset: update.lastOffset + 1, lastOffset: piece.lastOffset, state: piece.state, deliveryCount: piece.deliveryCount))
                    }
                    return kept
                }
            }
            merged += pieces
        }
        merged += updates
        merged.sort { $0.firstOffset < $1.firstOffset }
        var result: [Batch] = []
        for var batch in merged where batch.lastOffset >= start {
            batch.firstOffset = max(batch.firstOffset, start)
            if var last = result.last, last.lastOffset == batch.firstOffset - 1, last.state == batch.state, last.deliveryCount == batch.deliveryCount {
                last.lastOffset = batch.lastOffset
                result[result.count - 1] = last
            } else {
                result.append(batch)
            }
        }
        return Self(startOffset: start, batches: result)
    }

    private static func byOffset(_ batches: [Batch], from start: Int64) -> [Int64: Batch] {
        var result: [Int64: Batch] = [:]
        for batch in batches where batch.lastOffset >= start {
            for offset in max(batch.firstOffset, start)...batch.lastOffset { result[offset] = batch }
        }
        return result
    }
}
