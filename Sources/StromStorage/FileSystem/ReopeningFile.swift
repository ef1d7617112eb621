import Synchronization
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file of a ``ReopeningFileSystem``: its descriptor may be closed for the budget between calls
/// and is opened again by path on the next call.
///
/// A call that picked up the descriptor just before the budget closed it either completes (the
/// underlying file releases a descriptor only when its calls in flight return) or fails with
/// `.closed` before doing anything, and is then retried on a fresh descriptor.
final class ReopeningFile: StorageFile {
    let path: String
    private let owner: ReopeningFileSystem
    private let state: Mutex<State>

    private struct State {
        var inner: (any StorageFile)?
        var isClosed = false
        /// Renamed over or removed: keeps its descriptor until closed, never reopened by path.
        var isPinned = false
        /// The clock's reference bit.
        var recentlyUsed = true
    }

    enum BudgetOutcome: Equatable {
        case spared, closed, leftRing
    }

    init(path: String, inner: any StorageFile, owner: ReopeningFileSystem) {
        self.path = path
        self.owner = owner
        self.state = Mutex(State(inner: inner))
    }

    var isLive: Bool { state.withLock { !$0.isClosed } }

    // MARK: The budget's side (called under the file system's lock)

    func closeForBudget() -> BudgetOutcome {
        let (outcome, evicted) = state.withLock { state -> (BudgetOutcome, (any StorageFile)?) in
            guard !state.isClosed, !state.isPinned, let inner = state.inner else { return (.leftRing, nil) }
            if state.recentlyUsed {
                state.recentlyUsed = false
                return (.spared, nil)
            }
            state.inner = nil
            return (.closed, inner)
        }
        try? evicted?.close()
        return outcome
    }

    /// Puts a fresh descriptor in place unless one is there; returns the one in use and whether it is new.
    func installDescriptor(
        _ open: () throws(StorageIOError) -> any StorageFile
    ) throws(StorageIOError) -> (any StorageFile, Bool) {
        try state.withLock { (state) throws(StorageIOError) -> (any StorageFile, Bool) in
            if state.isClosed { throw closedError("reopen") }
            state.recentlyUsed = true
            if let inner = state.inner { return (inner, false) }
            let inner = try open()
            state.inner = inner
            return (inner, true)
        }
    }

    func pin(_ open: () throws(StorageIOError) -> any StorageFile) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            guard !state.isClosed else { return }
            if state.inner == nil { state.inner = try open() }
            state.isPinned = true
        }
    }

    // MARK: StorageFile

    /// Runs `body` on a descriptor, reopening the file if the budget closed it, and again if the
    /// budget closes it between the pick-up and the call (bounded: each retry reopens).
    private func withDescriptor<T>(_ body: (any StorageFile) throws(StorageIOError) -> T) throws(StorageIOError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            let current = try state.withLock { (state) throws(StorageIOError) -> (any StorageFile)? in
                if state.isClosed { throw closedError("use") }
                state.recentlyUsed = true
                return state.inner
            }
            let file: any StorageFile
            if let current { file = current } else { file = try owner.reopen(self) }
            do {
                return try body(file)
            } catch where error.kind == .closed && attempt < 4 && isLive {
                continue
            }
        }
    }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try withDescriptor { (file) throws(StorageIOError) in try file.write(bytes, at: position) }
    }

    func write(_ head: ByteBuffer, _ body: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try withDescriptor { (file) throws(StorageIOError) in try file.write(head, body, at: position) }
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer {
        try withDescriptor { (file) throws(StorageIOError) in try file.read(at: position, count: count) }
    }

    func size() throws(StorageIOError) -> Int64 {
        try withDescriptor { (file) throws(StorageIOError) in try file.size() }
    }

    func sync() throws(StorageIOError) {
        try withDescriptor { (file) throws(StorageIOError) in try file.sync() }
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        try withDescriptor { (file) throws(StorageIOError) in try file.truncate(to: sizeBytes) }
    }

    func leaseDescriptor() -> StorageFileLease? {
        try? withDescriptor { (file) throws(StorageIOError) in
            guard let lease = file.leaseDescriptor() else { throw closedError("sendfile") }
            return lease
        }
    }

    func close() throws(StorageIOError) {
        let inner = try state.withLock { (state) throws(StorageIOError) -> (any StorageFile)? in
            if state.isClosed { throw closedError("close") }
            state.isClosed = true
            defer { state.inner = nil }
            return state.inner
        }
        owner.forget(self)
        try inner?.close()
    }

    private func closedError(_ operation: String) -> StorageIOError {
        StorageIOError(kind: .closed, operation: operation, path: path, errno: EBADF)
    }
}
