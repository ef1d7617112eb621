import Synchronization

/// The open ``MetadataStore/changes()`` streams of one store.
///
/// A class with its own `Mutex` rather than state of the store's actor, because a stream's termination
/// handler runs synchronously on whatever thread ends the stream and must unregister without hopping to
/// the actor (which would take an unstructured task). Continuations are only yielded to by the store's
/// actor, one change at a time, so every stream sees changes in commit order.
final class ChangeSubscribers: Sendable {
    private struct State {
        var continuations: [Int: AsyncStream<MetadataChange>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// A new stream whose first element is `snapshot`.
    func subscribe(startingWith snapshot: MetadataChange) -> AsyncStream<MetadataChange> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: MetadataChange.self, bufferingPolicy: .bufferingOldest(Limits.changesBufferedMax))
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.continuations[state.nextID] = continuation
            return state.nextID
        }
        // Weak: the registry holds the continuation, which holds this handler.
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.continuations.removeValue(forKey: id) }
        }
        continuation.yield(snapshot)
        return stream
    }

    /// Sends `change` to every stream. A stream whose buffer is full lost this change, so it is ended: its
    /// subscriber starts over from a fresh snapshot.
    func publish(_ change: MetadataChange) {
        // Yield and finish outside the lock: finishing runs the termination handler, which takes the lock.
        let continuations = state.withLock { $0.continuations }
        for (id, continuation) in continuations {
            switch continuation.yield(change) {
            case .enqueued:
                continue
            case .dropped:
                state.withLock { _ = $0.continuations.removeValue(forKey: id) }
                continuation.finish()
            case .terminated:
                state.withLock { _ = $0.continuations.removeValue(forKey: id) }
            @unknown default:
                continue
            }
        }
    }

    /// Ends every stream.
    func finishAll() {
        let continuations = state.withLock { state in
            defer { state.continuations.removeAll() }
            return state.continuations
        }
        for continuation in continuations.values {
            continuation.finish()
        }
    }

    /// How many streams are open.
    var count: Int { state.withLock { $0.continuations.count } }
}
