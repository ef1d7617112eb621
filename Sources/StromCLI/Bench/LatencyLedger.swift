import Synchronization

/// Every latency record's two figures, by sequence number, filled in by the producer's
/// acknowledgements and the consumer's receipts (different tasks, hence the lock; each holds it
/// for a few array writes). A figure of -1 means "not yet": the ledger is also how the run proves
/// each record was acknowledged once and consumed exactly once.
final class LatencyLedger: Sendable {
    struct State {
        /// Receipt − send, nanoseconds.
        var endToEnd: [Int64]
        /// Produce response − send, nanoseconds.
        var acknowledgement: [Int64]
        var received = 0
        var acknowledged = 0
        var duplicates = 0
        /// Records on the topic that are not this run's (another nonce, or no stamp).
        var foreign = 0
        /// When the last acknowledgement arrived (``MonotonicClock``).
        var allAcknowledgedAt: Int64?
    }

    let recordCount: Int
    let nonce: UInt32
    private let state: Mutex<State>

    init(recordCount: Int, nonce: UInt32) {
        self.recordCount = recordCount
        self.nonce = nonce
        state = Mutex(State(
            endToEnd: Array(repeating: -1, count: recordCount), acknowledgement: Array(repeating: -1, count: recordCount)))
    }

    func recordAcknowledgement(sequence: Int, nanoseconds: Int64, at now: Int64) {
        state.withLock { state in
            precondition(state.acknowledgement[sequence] < 0, "record \(sequence) acknowledged twice")
            state.acknowledgement[sequence] = nanoseconds
            state.acknowledged += 1
            if state.acknowledged == recordCount { state.allAcknowledgedAt = now }
        }
    }

    /// One fetch's worth of this run's records, and how many others it held.
    func recordReceipts(_ receipts: [(sequence: Int, nanoseconds: Int64)], foreign: Int) {
        state.withLock { state in
            for (sequence, nanoseconds) in receipts {
                if state.endToEnd[sequence] >= 0 {
                    state.duplicates += 1
                } else {
                    state.endToEnd[sequence] = nanoseconds
                    state.received += 1
                }
            }
            state.foreign += foreign
        }
    }

    var receivedCount: Int { state.withLock { $0.received } }
    var allAcknowledgedAt: Int64? { state.withLock { $0.allAcknowledgedAt } }

    /// A copy of everything, once the run is over.
    var snapshot: State { state.withLock { $0 } }
}
