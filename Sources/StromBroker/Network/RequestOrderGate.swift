import Synchronization

/// Where one request of a connection lets the next one start. Kafka processes a connection's
/// requests in order; what must be in order is only their effect on state (a producer's pipelined
/// batches land in the log in the order sent), not their waiting: a Produce with acks=all opens
/// its gate once its batches are appended, so the next request appends while it waits for the
/// in-sync replicas. Responses still leave in request order (``PendingResponses``).
final class RequestOrderGate: Sendable {
    private struct State {
        var isOpen = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Lets every waiter (the connection's next request) go; later calls do nothing.
    func open() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.isOpen else { return [] }
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns once the gate is open.
    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state -> Bool in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}
