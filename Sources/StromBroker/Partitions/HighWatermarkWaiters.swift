import Synchronization
public import StromStorage

/// Long-polling fetches waiting for data: each waits on a set of partitions until one of their
/// high watermarks moves or its deadline passes. Woken by ``PartitionLog``'s high-watermark
/// listener (events, never polling).
public final class HighWatermarkWaiters: Sendable {
    private enum Entry {
        case waiting(Set<TopicPartition>, CheckedContinuation<Void, Never>)
        /// The wait is over (it may not have registered yet when its timeout or cancellation came).
        case ended(Outcome)
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextId = 0
        var woken = 0
        var expired = 0

        mutating func count(_ outcome: Outcome) {
            switch outcome {
            case .woken: woken += 1
            case .expired: expired += 1
            case .cancelled: break
            }
        }
    }

    /// How a wait ended.
    public enum Outcome: Sendable, Equatable {
        /// A watched high watermark moved (or had already moved when the wait registered).
        case woken
        /// The timeout passed first.
        case expired
        case cancelled
    }

    private let state = Mutex(State())

    public init() {}

    /// Fetches currently parked (for tests and metrics).
    public var waitingCount: Int {
        state.withLock { $0.entries.values.filter { if case .waiting = $0 { true } else { false } }.count }
    }

    /// Waits that ended because data arrived, and because their timeout passed (for metrics, and
    /// for tests that must tell the two apart without timing them).
    public var outcomeCounts: (woken: Int, expired: Int) {
        state.withLock { ($0.woken, $0.expired) }
    }

    /// Called when `topicPartition`'s high watermark moved: wakes every fetch waiting on it.
    public func notify(_ topicPartition: TopicPartition) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, entry) in state.entries {
                if case .waiting(let partitions, let continuation) = entry, partitions.contains(topicPartition) {
                    state.entries[id] = .ended(.woken)
                    woken.append(continuation)
                }
            }
            state.woken += woken.count
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns when one of `partitions` has new data, after `timeout`, or on cancellation.
    ///
    /// - Parameter hasNewData: checked once the wait is registered, so that data arriving between
    ///   the caller's last read and the registration is not missed (no lost wake-ups).
    @discardableResult
    public func wait(for partitions: Set<TopicPartition>, timeout: Duration, hasNewData: @escaping @Sendable () -> Bool) async -> Outcome {
        let id = state.withLock { state -> Int in
            state.nextId += 1
            return state.nextId
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let endedEarly = self.state.withLock { state -> Bool in
                            if case .ended = state.entries[id] { return true }
                            state.entries[id] = .waiting(partitions, continuation)
                            return false
                        }
                        if endedEarly {
                            continuation.resume()
                        } else if hasNewData() {
                            self.finish(id, .woken)
                        }
                    }
                } onCancel: {
                    self.finish(id, .cancelled)
                }
            }
            group.addTask {
                // Cancelled when the wait ended otherwise; then there is nothing to finish.
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.finish(id, .expired)
            }
            await group.next()
            group.cancelAll()
        }
        // Every child has finished: the entry says how the wait ended.
        return state.withLock { state -> Outcome in
            let entry = state.entries.removeValue(forKey: id)
            if case .ended(let outcome)? = entry { return outcome }
            return .woken
        }
    }

    private func finish(_ id: Int, _ outcome: Outcome) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch state.entries[id] {
            case .waiting(_, let continuation)?:
                state.entries[id] = .ended(outcome)
                state.count(outcome)
                return continuation
            case .ended?:
                return nil
            case nil:
                // The wait has not registered yet: it sees this and returns at once.
                state.entries[id] = .ended(outcome)
                state.count(outcome)
                return nil
            }
        }
        continuation?.resume()
    }
}
