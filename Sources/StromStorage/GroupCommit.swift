import Foundation
import Synchronization

/// Group commit: appenders that need their data durable (acks=all) wait here, and one flusher
/// thread syncs each dirty log once for everyone waiting on it. While it syncs, new waiters
/// queue up and share the next sync, so 32 concurrent appenders cost about as many fsyncs as
/// one appender does, not 32 times as many.
///
/// The thread is dedicated because fsync blocks: it must never run on an event loop or in the
/// cooperative pool. Completion is signalled to each waiter by resuming its continuation; nobody polls.
public final class GroupCommit: Sendable {
    private struct Waiter {
        let log: PartitionLog
        let offset: Int64
        let continuation: CheckedContinuation<Int64, any Error>
    }

    private struct Queue {
        var waiters: [Waiter] = []
        /// Logs to flush without anyone waiting (acks=1/0: moves the high watermark soon).
        var background: [ObjectIdentifier: PartitionLog] = [:]
        var stopped = false
    }

    private let queue = Mutex(Queue())
    private let statistics = Mutex(Statistics())

    /// How much sharing happened: waiters served per sync round (for metrics and benchmarks).
    public struct Statistics: Sendable, Equatable {
        public var rounds = 0
        public var waitersServed = 0
        public var logsSynced = 0
    }

    public var currentStatistics: Statistics { statistics.withLock { $0 } }
    private let wakeUp = NSCondition()
    private let finished = NSCondition()
    /// Flusher threads still running.
    private let running: Mutex<Int>

    /// One sync round, as reported to ``init(flusherThreads:onRound:)``'s observer (metrics).
    public struct Round: Sendable {
        public var waiters: Int
        public var logs: Int
        public var duration: Duration
    }

    private let onRound: (@Sendable (Round) -> Void)?

    /// - Parameter flusherThreads: how many syncs may be in flight at once. With two, a round can
    ///   start while the previous one is still in fdatasync, so waiters that arrive meanwhile do
    ///   not wait for it to finish first.
    /// - Parameter onRound: told about every round once its syncs are done, on the flusher thread.
    public init(flusherThreads: Int = 2, onRound: (@Sendable (Round) -> Void)? = nil) {
        precondition(flusherThreads >= 1, "group commit needs a flusher thread")
        self.onRound = onRound
        running = Mutex(flusherThreads)
        for index in 0..<flusherThreads {
            let thread = Thread { [self] in self.run() }
            thread.name = "strom-group-commit-\(index)"
            thread.start()
        }
    }

    /// Returns once everything in `log` up to and including `offset` is on disk; returns the
    /// durable offset (one past the last synced record).
    /// - Throws: the storage error if the sync failed, or `CancellationError` after ``shutdown()``.
    public func waitUntilDurable(_ log: PartitionLog, offset: Int64) async throws -> Int64 {
        if log.recoveryPoint > offset { return log.recoveryPoint }
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = queue.withLock { queue in
                guard !queue.stopped else { return false }
                queue.waiters.append(Waiter(log: log, offset: offset, continuation: continuation))
                return true
            }
            guard accepted else {
                continuation.resume(throwing: CancellationError())
                return
            }
            signal()
        }
    }

    /// What acks=all waits for on this broker's copy of `log`: until `offset` is durable, or with
    /// `write.caching` nothing (the sync is asked for and happens in the background).
    /// - Throws: as ``waitUntilDurable(_:offset:)``.
    public func waitUntilAcknowledgeable(_ log: PartitionLog, offset: Int64) async throws {
        if log.config.flushesBeforeAcknowledging {
            _ = try await waitUntilDurable(log, offset: offset)
        } else {
            requestFlush(log)
        }
    }

    /// Asks for `log` to be synced soon without waiting for it.
    public func requestFlush(_ log: PartitionLog) {
        // A log already queued has had its flusher woken; waking one per append would cost a
        // futex call per produce request.
        let isNew = queue.withLock { $0.background.updateValue(log, forKey: ObjectIdentifier(log)) == nil }
        if isNew { signal() }
    }

    /// Finishes the round in progress, fails waiters that arrive later, and stops the thread.
    public func shutdown() {
        queue.withLock { $0.stopped = true }
        wakeUp.lock()
        wakeUp.broadcast()
        wakeUp.unlock()
        finished.lock()
        while running.withLock({ $0 > 0 }) { finished.wait() }
        finished.unlock()
    }

    private func signal() {
        wakeUp.lock()
        wakeUp.signal()
        wakeUp.unlock()
    }

    private func run() {
        while true {
            let (waiters, background, stopped) = nextRound()
            flush(waiters: waiters, background: background)
            if stopped && waiters.isEmpty && background.isEmpty { break }
        }
        running.withLock { $0 -= 1 }
        finished.lock()
        finished.broadcast()
        finished.unlock()
    }

    /// Blocks until there is work (or a stop), then takes everything queued. A round starts as
    /// soon as anyone waits: holding it back to gather more waiters was measured to lower
    /// throughput here (BENCHMARKS.md), since appends queue up anyway while a sync runs.
    private func nextRound() -> ([Waiter], [PartitionLog], Bool) {
        wakeUp.lock()
        defer { wakeUp.unlock() }
        while true {
            let taken = queue.withLock { queue -> ([Waiter], [PartitionLog], Bool)? in
                guard !queue.waiters.isEmpty || !queue.background.isEmpty || queue.stopped else { return nil }
                let taken = (queue.waiters, Array(queue.background.values), queue.stopped)
                queue.waiters.removeAll()
                queue.background.removeAll()
                return taken
            }
            if let taken { return taken }
            wakeUp.wait()
        }
    }

    private func flush(waiters: [Waiter], background: [PartitionLog]) {
        var logs: [ObjectIdentifier: PartitionLog] = [:]
        for waiter in waiters { logs[ObjectIdentifier(waiter.log)] = waiter.log }
        for log in background { logs[ObjectIdentifier(log)] = log }
        statistics.withLock {
            $0.rounds += 1
            $0.waitersServed += waiters.count
            $0.logsSynced += logs.count
        }
        var results: [ObjectIdentifier: Result<Int64, any Error>] = [:]
        let started = ContinuousClock.now
        for (id, log) in logs {
            do {
                results[id] = .success(try log.flush())
            } catch {
                results[id] = .failure(error)
            }
        }
        if !logs.isEmpty { onRound?(Round(waiters: waiters.count, logs: logs.count, duration: ContinuousClock.now - started)) }
        for waiter in waiters {
            switch results[ObjectIdentifier(waiter.log)] {
            case .success(let durable)?:
                // The flush covered the log end at its start, which includes every offset
                // appended before the waiter queued.
                if durable > waiter.offset {
                    waiter.continuation.resume(returning: durable)
                } else {
                    // Appended after the sync started: wait for the next round.
                    queue.withLock { $0.waiters.append(waiter) }
                }
            case .failure(let error)?:
                waiter.continuation.resume(throwing: error)
            case nil:
                waiter.continuation.resume(throwing: CancellationError())
            }
        }
    }
}
