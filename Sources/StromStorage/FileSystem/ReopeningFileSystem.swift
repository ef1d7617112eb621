import Synchronization


/// A ``StorageFileSystem`` that keeps at most `openFilesMax` descriptors open, closing the least
/// recently used files and reopening them by path on their next use (RocksDB's `max_open_files`).
///
/// Every segment of every partition is an open file; without a bound a broker with many small
/// segments cannot even start once their count passes the process's descriptor limit (EMFILE).
///
/// Closing a file only to reopen it by path later is safe only while the path still names the
/// same file. So a rename or removal through this file system first *pins* the files open under
/// the affected paths: they are reopened if needed and never closed for the budget again, which
/// keeps the old contents readable for a fetch still sending from a segment that retention,
/// compaction or a topic deletion just replaced (the same guarantee an always-open descriptor
/// gives). Opens, renames and removals are serialised under one lock for that reason; none of
/// them is on the append or fetch path.
public final class ReopeningFileSystem: StorageFileSystem {
    public let base: any StorageFileSystem
    public let openFilesMax: Int
    private let state = Mutex(State())

    /// What the budget has done, for tests and metrics.
    public struct Counters: Sendable, Equatable {
        /// Descriptors counted against the budget now (closed-by-owner files are counted until swept).
        public var openFiles: Int
        /// Files closed for the budget so far.
        public var evictions: Int
        /// Files reopened on use so far.
        public var reopens: Int
    }

    public var counters: Counters {
        state.withLock { Counters(openFiles: $0.ring.count, evictions: $0.evictions, reopens: $0.reopens) }
    }

    private struct Entry {
        weak var file: ReopeningFile?
    }

    private struct State {
        /// Files holding a descriptor that the budget may close, in clock order.
        var ring: [Entry] = []
        var hand = 0
        /// Every file handed out and not closed, by path: the ones a rename or removal must pin.
        var byPath: [String: [Entry]] = [:]
        var evictions = 0
        var reopens = 0
    }

    public init(base: any StorageFileSystem, openFilesMax: Int) {
        precondition(openFilesMax >= 1, "openFilesMax must be at least 1")
        self.base = base
        self.openFilesMax = openFilesMax
    }

    public func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        try state.withLock { (state) throws(StorageIOError) -> ReopeningFile in
            let file = ReopeningFile(path: path, inner: try base.open(path, create: create), owner: self)
            state.byPath[path, default: []].removeAll { $0.file?.isLive != true }
            state.byPath[path, default: []].append(Entry(file: file))
            state.ring.append(Entry(file: file))
            closeOverBudget(&state)
            return file
        }
    }

    /// Opens `file`'s path again after the budget closed it.
    func reopen(_ file: ReopeningFile) throws(StorageIOError) -> any StorageFile {
        try state.withLock { (state) throws(StorageIOError) -> any StorageFile in
            let (inner, opened) = try file.installDescriptor { () throws(StorageIOError) in try base.open(file.path, create: false) }
            if opened {
                state.reopens += 1
                state.ring.append(Entry(file: file))
                closeOverBudget(&state)
            }
            return inner
        }
    }

    /// Forgets a file its owner closed.
    func forget(_ file: ReopeningFile) {
        state.withLock { state in
            state.byPath[file.path]?.removeAll { $0.file == nil || $0.file === file }
            if state.byPath[file.path]?.isEmpty == true { state.byPath[file.path] = nil }
        }
    }

    /// Clock (second chance): walks the ring from the hand, sparing each recently used file once,
    /// until the budget holds or every file was looked at twice (all pinned or in use: the budget
    /// is then exceeded rather than failing a read).
    private func closeOverBudget(_ state: inout State) {
        var steps = 0
        while state.ring.count > openFilesMax && steps <= 2 * state.ring.count {
            if state.hand >= state.ring.count { state.hand = 0 }
            let outcome = state.ring[state.hand].file?.closeForBudget() ?? .leftRing
            switch outcome {
            case .spared:
                state.hand += 1
                steps += 1
            case .closed, .leftRing:
                if outcome == .closed { state.evictions += 1 }
                state.ring.swapAt(state.hand, state.ring.count - 1)
                state.ring.removeLast()
            }
        }
    }

    /// Pins every live file at `paths` so that they keep their contents across the change.
    private func pinFiles(_ state: inout State, at paths: [String]) throws(StorageIOError) {
        for path in paths {
            for entry in state.byPath[path] ?? [] {
                try entry.file?.pin { () throws(StorageIOError) in try base.open(path, create: false) }
            }
            state.byPath[path] = nil
        }
    }

    public func rename(_ source: String, to destination: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try pinFiles(&state, at: [source, destination])
            try base.rename(source, to: destination)
        }
    }

    public func remove(_ path: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try pinFiles(&state, at: [path])
            try base.remove(path)
        }
    }

    /// Topic deletion: one scan of the open files for those under `path`.
    public func removeTree(_ path: String) throws(StorageIOError) {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        try state.withLock { (state) throws(StorageIOError) in
            try pinFiles(&state, at: state.byPath.keys.filter { $0 == path || $0.hasPrefix(prefix) })
            try base.removeTree(path)
        }
    }

    public func list(_ directory: String) throws(StorageIOError) -> [String] { try base.list(directory) }
    public func createDirectory(_ path: String) throws(StorageIOError) { try base.createDirectory(path) }
    public func exists(_ path: String) -> Bool { base.exists(path) }
    public func syncDirectory(_ path: String) throws(StorageIOError) { try base.syncDirectory(path) }
}
