import Synchronization
public import StromStorage

/// Long-polling fetches waiting for data: each waits on a set of partitions until one of their
/// high watermarks moves or its deadline passes. Woken by ``PartitionLog``'s high-watermark
/// listener (events, never polling).
public final class HighWatermarkWaiters: Sendable {
    private enum Entry {
        case waiting(Set<TopicPartition>, CheckedContinuation<Void, Never>)
        /// The timeout or a cancellation came before the fetch registered.
        case cancelled
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextId = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Fetches currently parked (for tests and metrics).
    public var waitingCount: Int {
        state.withLock { $0.entries.values.filter { if case .waiting = $0 { true } else { false } }.count }
    }

    /// Called when `topicPartition`'s high watermark moved: wakes every fetch waiting on it.
    public func notify(_ topicPartition: TopicPartition) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, entry) in state.entries {
                if case .waiting(let partitions, let continuation) = entry, partitions.contains(topicPartition) {
                    state.entries[id] = nil
                    woken.append(continuation)
                }
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns when one of `partitions` has new data, after `timeout`, or on cancellation.
    ///
    /// - Parameter hasNewData: checked once the wait is registered, so that data arriving between
    ///   the caller's last read and the registration is not missed (no lost wake-ups).
    public func wait(for partitions: Set<TopicPartition>, timeout: Duration, hasNewData: @escaping @Sendable () -> Bool) async {
        let id = state.withLock { state -> Int in
            state.nextId += 1
            return state.nextId
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let resumeNow = self.state.withLock { state -> Bool in
                            if case .cancelled = state.entries[id] {
                                state.entries[id] = nil
                                return true
                            }
                            state.entries[id] = .waiting(partitions, continuation)
                            return false
                        }
                        if resumeNow || hasNewData() { resumeNow ? continuation.resume() : self.finish(id) }
                    }
                } onCancel: {
                    self.finish(id)
                }
            }
            group.addTask {
                // Cancelled when the wait ended otherwise; then there is nothing to finish.
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.finish(id)
            }
            await group.next()
            group.cancelAll()
        }
        // Every child has finished: drop what a late cancellation may have recorded.
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
    }

    private func finish(_ id: Int) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch state.entries[id] {
            case .waiting(_, let continuation)?:
                state.entries[id] = nil
                return continuation
            case .cancelled?:
                return nil
            case nil:
                state.entries[id] = .cancelled
                return nil
            }
        }
        continuation?.resume()
    }
}
