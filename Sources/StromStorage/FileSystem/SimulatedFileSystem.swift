public import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-memory ``StorageFileSystem`` for tests that models what a power cut does to a POSIX file
/// system, which kill -9 cannot show (the page cache survives the process).
///
/// Every file has a *durable* content (what the disk holds) and a *volatile* one (what reads see).
/// `write` and `truncate` change only the volatile content; ``StorageFile/sync()`` makes it durable.
/// Directory entries work the same way: creating, renaming and removing change what ``exists(_:)``
/// and ``list(_:)`` see at once, but reach the disk only with ``syncDirectory(_:)``.
///
/// ``crash(seed:)`` cuts the power: each file falls back to its durable content plus a seeded
/// random share of its unsynced changes (none, a prefix, or a prefix ending in a torn write), the
/// unsynced directory changes survive in part, and every open handle dies. The same seed on the
/// same history gives the same result, so a failing test replays from its printed seed.
///
/// Model, and where it is kinder than POSIX:
/// - Directory changes form one ordered journal, like the metadata journal of ext4 or XFS. A crash
///   keeps a random prefix of the unsynced part; `syncDirectory(d)` makes durable every change up to
///   the last one in `d`, so it also commits earlier changes in other directories (POSIX promises
///   only `d`'s). A rename between directories counts as a change in both.
/// - A file's unsynced writes and truncations survive as an ordered prefix too (none, some, all),
///   optionally followed by one torn write. A torn write keeps its first bytes; the rest is either
///   lost or, where it extended the file, reads as zeros (the size reached the disk, the data did
///   not — how a preallocated file looks). Real disks tear at sector boundaries; any byte is harsher.
/// - A failed sync (see ``failSync(_:kind:)``) leaves the changes unsynced.
///
/// Thread-safe: one `Mutex` guards all state, so handles may be used from any thread.
public final class SimulatedFileSystem: StorageFileSystem {
    private let state = Mutex(SimulatedState())
    /// Told about every file sync (`fdatasync`) before it takes effect, with the file's path; it
    /// may block, as a slow disk would. Tests count syncs with it.
    private let syncObserver = Mutex<(@Sendable (String) -> Void)?>(nil)

    public init() {}

    /// Sets (or, with nil, clears) the observer of file syncs.
    public func observeSyncs(_ observer: (@Sendable (String) -> Void)?) {
        syncObserver.withLock { $0 = observer }
    }

    func willSync(_ path: String) {
        syncObserver.withLock { $0 }?(path)
    }

    public func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        let (handleID, inodeID) = try state.withLock { (state) throws(StorageIOError) in
            try state.open(SimulatedPath.normalize(path), displayPath: path, create: create)
        }
        return SimulatedFile(fileSystem: self, path: path, handleID: handleID, inodeID: inodeID)
    }

    public func list(_ directory: String) throws(StorageIOError) -> [String] {
        try state.withLock { (state) throws(StorageIOError) in
            try state.list(SimulatedPath.normalize(directory), displayPath: directory)
        }
    }

    /// Creates `path` and any missing parents; an existing directory is not an error.
    public func createDirectory(_ path: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try state.createDirectory(SimulatedPath.normalize(path), displayPath: path)
        }
    }

    public func rename(_ source: String, to destination: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try state.rename(
                SimulatedPath.normalize(source), to: SimulatedPath.normalize(destination), displayPath: source)
        }
    }

    /// Removes a file or an empty directory.
    public func remove(_ path: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try state.remove(SimulatedPath.normalize(path), displayPath: path)
        }
    }

    /// Removes `path` and everything under it, deepest entries first.
    /// - Throws: `.notFound` if `path` does not exist.
    public func removeTree(_ path: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try state.removeTree(SimulatedPath.normalize(path), displayPath: path)
        }
    }

    public func exists(_ path: String) -> Bool {
        state.withLock { $0.volatileNames[SimulatedPath.normalize(path)] != nil }
    }

    public func syncDirectory(_ path: String) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            try state.syncDirectory(SimulatedPath.normalize(path), displayPath: path)
        }
    }

    // MARK: Power loss and faults

    /// Simulates a power cut followed by a reboot.
    ///
    /// Each file reverts to its durable content plus a random choice, for files with unsynced
    /// changes, among: none of them, a prefix of them, or a prefix followed by one torn write. A
    /// random prefix of the unsynced directory changes survives; files whose directory entry did
    /// not survive are gone. Every open handle becomes invalid and throws `.closed`. Afterwards
    /// everything that survived is durable. Faults set with ``failWrites(after:kind:)`` or
    /// ``failSync(_:kind:)`` stay in force.
    ///
    /// - Parameter seed: Seeds every random choice; the same seed after the same history gives the
    ///   same outcome.
    /// - Returns: What the crash chose, for failure messages.
    @discardableResult
    public func crash(seed: UInt64) -> SimulatedCrashReport {
        state.withLock { $0.crash(seed: seed) }
    }

    /// A disk that fills up: after `bytes` more bytes have been written, writes fail with `kind`.
    /// The write that crosses the budget writes the bytes that fit, then throws, like a short
    /// `pwrite` followed by ENOSPC.
    public func failWrites(after bytes: Int, kind: StorageIOError.Kind = .noSpace) {
        precondition(bytes >= 0, "negative write budget \(bytes)")
        state.withLock { $0.writeFault = WriteFault(remainingBytes: bytes, kind: kind) }
    }

    /// Makes `sync()` of the file now at `path`, and `syncDirectory` of the directory `path`, fail
    /// with `kind`; with `path` nil, every sync fails. Failed syncs leave the changes unsynced.
    public func failSync(_ path: String? = nil, kind: StorageIOError.Kind = .other) {
        state.withLock { $0.syncFault = SyncFault(path: path.map(SimulatedPath.normalize), kind: kind) }
    }

    /// Makes opening any file whose path starts with `pathPrefix` fail with `kind` (EMFILE and
    /// friends: a broker out of descriptors).
    public func failOpens(under pathPrefix: String, kind: StorageIOError.Kind = .other) {
        state.withLock { $0.openFault = (SimulatedPath.normalize(pathPrefix), kind) }
    }

    /// Removes every fault set with ``failWrites(after:kind:)``, ``failSync(_:kind:)`` and
    /// ``failOpens(under:kind:)``.
    public func clearFaults() {
        state.withLock {
            $0.writeFault = nil
            $0.syncFault = nil
            $0.openFault = nil
        }
    }

    // MARK: Inspection

    /// What a crash that lost every unsynced change would leave at `path`: the durable content of
    /// the file the durable directory entry names; nil if there is no such entry or it is not a file.
    public func durableContent(of path: String) -> ByteBuffer? {
        state.withLock { state in
            guard case .file(let inodeID)? = state.durableNames[SimulatedPath.normalize(path)],
                let inode = state.inodes[inodeID]
            else { return nil }
            return ByteBuffer(bytes: inode.durableContent)
        }
    }

    /// What a read sees now at `path`; nil if there is no such file.
    public func content(of path: String) -> ByteBuffer? {
        state.withLock { state in
            guard case .file(let inodeID)? = state.volatileNames[SimulatedPath.normalize(path)],
                let inode = state.inodes[inodeID]
            else { return nil }
            return ByteBuffer(bytes: inode.content)
        }
    }

    // MARK: Used by SimulatedFile

    fileprivate func withOpenInode<Result: Sendable>(
        _ file: SimulatedFile, _ operation: String,
        _ body: (inout SimulatedState, inout Inode) throws(StorageIOError) -> Result
    ) throws(StorageIOError) -> Result {
        try state.withLock { (state) throws(StorageIOError) -> Result in
            // Taken out of the dictionary while in use so the content array stays uniquely
            // referenced and a write edits it in place instead of copying the whole file.
            guard state.openHandleIDs.contains(file.handleID),
                var inode = state.inodes.removeValue(forKey: file.inodeID)
            else {
                throw StorageIOError(kind: .closed, operation: operation, path: file.path, errno: EBADF)
            }
            defer { state.inodes[file.inodeID] = inode }
            return try body(&state, &inode)
        }
    }

    fileprivate func close(_ file: SimulatedFile) throws(StorageIOError) {
        try state.withLock { (state) throws(StorageIOError) in
            guard state.openHandleIDs.remove(file.handleID) != nil else {
                throw StorageIOError(kind: .closed, operation: "close", path: file.path, errno: EBADF)
            }
        }
    }
}

/// What ``SimulatedFileSystem/crash(seed:)`` kept and lost.
public struct SimulatedCrashReport: Sendable, CustomStringConvertible {
    /// Unsynced directory changes (creations, renames, removals) that survived.
    public var directoryChangesKept: Int
    /// Unsynced directory changes that were lost.
    public var directoryChangesLost: Int
    /// For each surviving file that had unsynced changes, keyed by its path after the crash.
    public var files: [String: SimulatedCrashOutcome]

    public var description: String {
        let fileLines = files.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return "directory changes kept \(directoryChangesKept), lost \(directoryChangesLost); "
            + (fileLines.isEmpty ? "no unsynced file changes" : fileLines.joined(separator: "; "))
    }
}

/// What a crash did to one file's unsynced changes (writes and truncations, in order).
public enum SimulatedCrashOutcome: Equatable, Sendable {
    /// Every unsynced change was lost.
    case allLost(changeCount: Int)
    /// The first `keptCount` changes survived (possibly all of them), the rest were lost.
    case prefixKept(keptCount: Int, changeCount: Int)
    /// The first `keptCount` changes survived, then the next one, a write, kept only its first
    /// `bytesKept` bytes; the rest of that write was lost or, if `zeroFilled`, reads as zeros where
    /// it extended the file.
    case tornWrite(keptCount: Int, changeCount: Int, bytesKept: Int, writeSizeBytes: Int, zeroFilled: Bool)
}

// MARK: - Handles

/// A handle on a simulated file. Sendable: its properties are immutable, and the state they refer
/// to lives behind the file system's `Mutex`.
final class SimulatedFile: StorageFile {
    let path: String
    let handleID: Int
    let inodeID: Int
    private let fileSystem: SimulatedFileSystem

    fileprivate init(fileSystem: SimulatedFileSystem, path: String, handleID: Int, inodeID: Int) {
        self.fileSystem = fileSystem
        self.path = path
        self.handleID = handleID
        self.inodeID = inodeID
    }

    /// Always nil: there is no kernel file to send from.
    func leaseDescriptor() -> StorageFileLease? { nil }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        precondition(position >= 0, "negative file position \(position)")
        try fileSystem.withOpenInode(self, "pwrite") { (state, inode) throws(StorageIOError) in
            var data = Array(bytes.readableBytesView)
            var fault: WriteFault?
            if var writeFault = state.writeFault {
                if data.count > writeFault.remainingBytes {
                    data.removeLast(data.count - writeFault.remainingBytes)
                    fault = writeFault
                }
                writeFault.remainingBytes -= data.count
                state.writeFault = writeFault
            }
            if !data.isEmpty { inode.change(.write(position: Int(position), bytes: data)) }
            if let fault { throw StorageIOError(simulated: fault.kind, operation: "pwrite", path: path) }
        }
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer {
        precondition(position >= 0 && count >= 0, "bad read of \(count) bytes at \(position)")
        return try fileSystem.withOpenInode(self, "pread") { (_, inode) throws(StorageIOError) in
            let start = min(Int(position), inode.content.count)
            let end = min(start + count, inode.content.count)
            return ByteBuffer(bytes: inode.content[start..<end])
        }
    }

    func size() throws(StorageIOError) -> Int64 {
        try fileSystem.withOpenInode(self, "fstat") { (_, inode) throws(StorageIOError) in
            Int64(inode.content.count)
        }
    }

    func sync() throws(StorageIOError) {
        fileSystem.willSync(path)
        try fileSystem.withOpenInode(self, "fdatasync") { (state, inode) throws(StorageIOError) in
            if let fault = state.syncFault(forFileInode: inodeID) {
                throw StorageIOError(simulated: fault.kind, operation: "fdatasync", path: path)
            }
            inode.durableContent = inode.content
            inode.unsyncedChanges.removeAll()
        }
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        precondition(sizeBytes >= 0, "negative file size \(sizeBytes)")
        try fileSystem.withOpenInode(self, "ftruncate") { (_, inode) throws(StorageIOError) in
            inode.change(.truncate(sizeBytes: Int(sizeBytes)))
        }
    }

    func close() throws(StorageIOError) {
        try fileSystem.close(self)
    }
}

// MARK: - State

/// Paths as the simulation keys them: absolute, no empty, `.` or `..` components ("/", "/a/b").
/// A relative path is taken relative to "/".
enum SimulatedPath {
    static let root = "/"

    static func normalize(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The parent of a normalized path; the root is its own parent.
    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return root }
        return String(path[..<slash])
    }

    static func name(_ path: String) -> String {
        String(path[path.index(after: path.lastIndex(of: "/")!)...])
    }

    /// Whether `path` is `ancestor` or lies below it.
    static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        ancestor == root || path == ancestor || path.hasPrefix(ancestor + "/")
    }
}

enum SimulatedNode: Equatable, Sendable {
    case file(inodeID: Int)
    case directory
}

/// A change to the directory tree; the journal holds the ones not yet durable, in order.
enum DirectoryChange: Sendable {
    case create(path: String, node: SimulatedNode)
    case rename(source: String, destination: String)
    case remove(path: String)

    /// The directories whose entries this change edits.
    var directories: [String] {
        switch self {
        case .create(let path, _), .remove(let path): [SimulatedPath.parent(path)]
        case .rename(let source, let destination):
            [SimulatedPath.parent(source), SimulatedPath.parent(destination)]
        }
    }

    /// Applies the change; callers checked it against the tree it follows, so it cannot fail.
    func apply(to tree: inout SimulatedTree) {
        switch self {
        case .create(let path, let node):
            tree.set(path, node)
        case .remove(let path):
            tree.set(path, nil)
        case .rename(let source, let destination):
            guard source != destination else { return }
            // The destination, if any, is a file or an empty directory: replaced.
            tree.set(destination, nil)
            let moved = tree.subtree(source).map { ($0, tree[$0]!) }
            for (path, _) in moved.reversed() { tree.set(path, nil) }
            for (path, node) in moved { tree.set(destination + path.dropFirst(source.count), node) }
        }
    }
}

/// A directory tree by normalized path, each directory's entries indexed, so that listing,
/// renaming or removing a directory costs its size and not the whole tree's (a broker creating
/// thousands of partitions lists each new directory).
struct SimulatedTree: Sendable {
    private(set) var nodes: [String: SimulatedNode] = [SimulatedPath.root: .directory]
    private var entries: [String: Set<String>] = [:]

    subscript(path: String) -> SimulatedNode? { nodes[path] }

    /// The paths directly inside `directory`.
    func children(of directory: String) -> [String] { Array(entries[directory] ?? []) }

    /// `path` and everything under it, parents before children.
    func subtree(_ path: String) -> [String] {
        guard nodes[path] != nil else { return [] }
        var paths = [path]
        var index = 0
        while index < paths.count {
            paths += (entries[paths[index]] ?? []).sorted()
            index += 1
        }
        return paths
    }

    mutating func set(_ path: String, _ node: SimulatedNode?) {
        let parent = SimulatedPath.parent(path)
        if let node {
            nodes[path] = node
            if path != SimulatedPath.root { entries[parent, default: []].insert(path) }
        } else {
            nodes[path] = nil
            entries[parent]?.remove(path)
            entries[path] = nil
        }
    }
}

/// A change to a file's content.
enum ContentChange: Sendable {
    case write(position: Int, bytes: [UInt8])
    case truncate(sizeBytes: Int)

    func apply(to content: inout [UInt8]) {
        switch self {
        case .write(let position, let bytes):
            if content.count < position {
                content.append(contentsOf: repeatElement(0, count: position - content.count))
            }
            let overlapEnd = min(content.count, position + bytes.count)
            content.replaceSubrange(position..<overlapEnd, with: bytes)
        case .truncate(let sizeBytes):
            if sizeBytes < content.count {
                content.removeLast(content.count - sizeBytes)
            } else {
                content.append(contentsOf: repeatElement(0, count: sizeBytes - content.count))
            }
        }
    }
}

/// A file's data, shared by every name and handle that refers to it.
struct Inode: Sendable {
    var durableContent: [UInt8] = []
    var content: [UInt8] = []
    /// What turns `durableContent` into `content`, oldest first.
    var unsyncedChanges: [ContentChange] = []

    mutating func change(_ change: ContentChange) {
        change.apply(to: &content)
        unsyncedChanges.append(change)
    }
}

struct WriteFault: Sendable {
    var remainingBytes: Int
    var kind: StorageIOError.Kind
}

struct SyncFault: Sendable {
    /// Normalized; nil for every sync.
    var path: String?
    var kind: StorageIOError.Kind
}

struct SimulatedState: Sendable {
    /// The tree as the running system sees it: `durableNames` with the journal applied.
    var volatileNames = SimulatedTree()
    /// The tree on disk.
    var durableNames = SimulatedTree()
    /// Directory changes not yet durable, oldest first.
    var journal: [DirectoryChange] = []
    var inodes: [Int: Inode] = [:]
    var nextInodeID = 0
    var openHandleIDs: Set<Int> = []
    var nextHandleID = 0
    var writeFault: WriteFault?
    var syncFault: SyncFault?
    var openFault: (pathPrefix: String, kind: StorageIOError.Kind)?

    /// The fault a `sync()` of this file runs into: every sync fails, or the one at the faulty path.
    func syncFault(forFileInode inodeID: Int) -> SyncFault? {
        guard let syncFault, let path = syncFault.path else { return syncFault }
        return volatileNames[path] == .file(inodeID: inodeID) ? syncFault : nil
    }

    mutating func record(_ change: DirectoryChange) {
        change.apply(to: &volatileNames)
        journal.append(change)
    }

    /// Checks that `path`'s parent is an existing directory, as every syscall that adds a name does.
    func requireParentDirectory(_ path: String, _ operation: String, _ displayPath: String) throws(StorageIOError) {
        switch volatileNames[SimulatedPath.parent(path)] {
        case .directory?: return
        case .file?: throw StorageIOError(kind: .other, operation: operation, path: displayPath, errno: ENOTDIR)
        case nil: throw StorageIOError(kind: .notFound, operation: operation, path: displayPath, errno: ENOENT)
        }
    }

    func children(of directory: String) -> [String] {
        volatileNames.children(of: directory)
    }

    mutating func open(
        _ path: String, displayPath: String, create: Bool
    ) throws(StorageIOError) -> (handleID: Int, inodeID: Int) {
        if let openFault, path.hasPrefix(openFault.pathPrefix) {
            throw StorageIOError(kind: openFault.kind, operation: "open", path: displayPath, errno: EMFILE)
        }
        let inodeID: Int
        switch volatileNames[path] {
        case .file(let existing)?:
            inodeID = existing
        case .directory?:
            throw StorageIOError(kind: .other, operation: "open", path: displayPath, errno: EISDIR)
        case nil:
            guard create else {
                throw StorageIOError(kind: .notFound, operation: "open", path: displayPath, errno: ENOENT)
            }
            try requireParentDirectory(path, "open", displayPath)
            inodeID = nextInodeID
            nextInodeID += 1
            inodes[inodeID] = Inode()
            record(.create(path: path, node: .file(inodeID: inodeID)))
        }
        let handleID = nextHandleID
        nextHandleID += 1
        openHandleIDs.insert(handleID)
        return (handleID, inodeID)
    }

    func list(_ directory: String, displayPath: String) throws(StorageIOError) -> [String] {
        switch volatileNames[directory] {
        case .directory?: return children(of: directory).map(SimulatedPath.name)
        case .file?: throw StorageIOError(kind: .other, operation: "opendir", path: displayPath, errno: ENOTDIR)
        case nil: throw StorageIOError(kind: .notFound, operation: "opendir", path: displayPath, errno: ENOENT)
        }
    }

    mutating func createDirectory(_ path: String, displayPath: String) throws(StorageIOError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            switch volatileNames[prefix] {
            case .directory?: continue
            case .file?: throw StorageIOError(kind: .other, operation: "mkdir", path: displayPath, errno: EEXIST)
            case nil: record(.create(path: prefix, node: .directory))
            }
        }
    }

    /// POSIX rename's rules: a file may replace a file, a directory an empty directory, and a
    /// directory cannot move inside itself.
    mutating func rename(_ source: String, to destination: String, displayPath: String) throws(StorageIOError) {
        func failure(_ kind: StorageIOError.Kind, _ code: Int32) -> StorageIOError {
            StorageIOError(kind: kind, operation: "rename", path: displayPath, errno: code)
        }
        guard let sourceNode = volatileNames[source] else { throw failure(.notFound, ENOENT) }
        try requireParentDirectory(destination, "rename", displayPath)
        if source == destination { return }
        if source == SimulatedPath.root || destination == SimulatedPath.root { throw failure(.other, EBUSY) }
        switch (sourceNode, volatileNames[destination]) {
        case (.directory, _) where SimulatedPath.isWithin(destination, source): throw failure(.other, EINVAL)
        case (.directory, .file?): throw failure(.other, ENOTDIR)
        case (.directory, .directory?) where !children(of: destination).isEmpty: throw failure(.other, ENOTEMPTY)
        case (.file, .directory?): throw failure(.other, EISDIR)
        default: break
        }
        record(.rename(source: source, destination: destination))
    }

    mutating func remove(_ path: String, displayPath: String) throws(StorageIOError) {
        switch volatileNames[path] {
        case nil: throw StorageIOError(kind: .notFound, operation: "unlink", path: displayPath, errno: ENOENT)
        case .directory? where path == SimulatedPath.root:
            throw StorageIOError(kind: .other, operation: "rmdir", path: displayPath, errno: EBUSY)
        case .directory? where !children(of: path).isEmpty:
            throw StorageIOError(kind: .other, operation: "rmdir", path: displayPath, errno: ENOTEMPTY)
        default: record(.remove(path: path))
        }
    }

    mutating func removeTree(_ path: String, displayPath: String) throws(StorageIOError) {
        guard volatileNames[path] != nil else {
            throw StorageIOError(kind: .notFound, operation: "lstat", path: displayPath, errno: ENOENT)
        }
        if path == SimulatedPath.root {
            throw StorageIOError(kind: .other, operation: "rmdir", path: displayPath, errno: EBUSY)
        }
        // Deepest first, so each removal finds its directory empty, as rmdir needs; then by name,
        // so the journal's order (and a crash's outcome) does not depend on hashing.
        let doomed = volatileNames.subtree(path).sorted { left, right in
            let (leftDepth, rightDepth) = (left.count(where: { $0 == "/" }), right.count(where: { $0 == "/" }))
            return leftDepth != rightDepth ? leftDepth > rightDepth : left < right
        }
        for doomedPath in doomed { record(.remove(path: doomedPath)) }
    }

    mutating func syncDirectory(_ path: String, displayPath: String) throws(StorageIOError) {
        switch volatileNames[path] {
        case .directory?: break
        case .file?: throw StorageIOError(kind: .other, operation: "open", path: displayPath, errno: ENOTDIR)
        case nil: throw StorageIOError(kind: .notFound, operation: "open", path: displayPath, errno: ENOENT)
        }
        if let fault = syncFault, fault.path == nil || fault.path == path {
            throw StorageIOError(simulated: fault.kind, operation: "fsync", path: displayPath)
        }
        // The journal is ordered: committing this directory's last change commits all before it.
        guard let lastIndex = journal.lastIndex(where: { $0.directories.contains(path) }) else { return }
        for change in journal[...lastIndex] { change.apply(to: &durableNames) }
        journal.removeFirst(lastIndex + 1)
    }

    mutating func crash(seed: UInt64) -> SimulatedCrashReport {
        var random = CrashRandom(seed: seed)
        let directoryChangesKept = random.below(journal.count + 1)
        for change in journal.prefix(directoryChangesKept) { change.apply(to: &durableNames) }
        let directoryChangesLost = journal.count - directoryChangesKept
        journal.removeAll()
        volatileNames = durableNames
        openHandleIDs.removeAll()

        // Files no name refers to are gone with their open handles.
        var pathByInodeID: [Int: String] = [:]
        for (path, node) in durableNames.nodes {
            if case .file(let inodeID) = node { pathByInodeID[inodeID] = path }
        }
        inodes = inodes.filter { pathByInodeID[$0.key] != nil }

        var outcomes: [String: SimulatedCrashOutcome] = [:]
        // Sorted: dictionary order varies between runs, and the seed must replay.
        for inodeID in inodes.keys.sorted() {
            guard var inode = inodes[inodeID], !inode.unsyncedChanges.isEmpty else { continue }
            let outcome = Self.chooseOutcome(for: inode.unsyncedChanges, using: &random)
            var content = inode.durableContent
            switch outcome {
            case .allLost:
                break
            case .prefixKept(let keptCount, _):
                for change in inode.unsyncedChanges.prefix(keptCount) { change.apply(to: &content) }
            case .tornWrite(let keptCount, _, let bytesKept, let writeSizeBytes, let zeroFilled):
                for change in inode.unsyncedChanges.prefix(keptCount) { change.apply(to: &content) }
                guard case .write(let position, let bytes) = inode.unsyncedChanges[keptCount] else {
                    preconditionFailure("torn change \(keptCount) is not a write")
                }
                ContentChange.write(position: position, bytes: Array(bytes.prefix(bytesKept))).apply(to: &content)
                if zeroFilled && content.count < position + writeSizeBytes {
                    content.append(contentsOf: repeatElement(0, count: position + writeSizeBytes - content.count))
                }
            }
            inode.durableContent = content
            inode.content = content
            inode.unsyncedChanges.removeAll()
            inodes[inodeID] = inode
            outcomes[pathByInodeID[inodeID]!] = outcome
        }
        return SimulatedCrashReport(
            directoryChangesKept: directoryChangesKept, directoryChangesLost: directoryChangesLost, files: outcomes)
    }

    /// One of the three outcomes with equal odds; a tear needs a non-empty write to tear, else the
    /// prefix outcome stands in.
    fileprivate static func chooseOutcome(
        for changes: [ContentChange], using random: inout CrashRandom
    ) -> SimulatedCrashOutcome {
        let changeCount = changes.count
        switch random.below(3) {
        case 0:
            return .allLost(changeCount: changeCount)
        case 1:
            return .prefixKept(keptCount: 1 + random.below(changeCount), changeCount: changeCount)
        default:
            let tearable = changes.indices.filter {
                if case .write(_, let bytes) = changes[$0] { !bytes.isEmpty } else { false }
            }
            guard !tearable.isEmpty else {
                return .prefixKept(keptCount: 1 + random.below(changeCount), changeCount: changeCount)
            }
            let tornIndex = tearable[random.below(tearable.count)]
            guard case .write(_, let bytes) = changes[tornIndex] else { preconditionFailure("not a write") }
            return .tornWrite(
                keptCount: tornIndex, changeCount: changeCount, bytesKept: random.below(bytes.count),
                writeSizeBytes: bytes.count, zeroFilled: random.next() & 1 == 1)
        }
    }
}

extension StorageIOError {
    /// A simulated failure of `kind`, with the errno a real system would have set.
    init(simulated kind: Kind, operation: String, path: String) {
        let code: Int32 =
            switch kind {
            case .notFound: ENOENT
            case .noSpace: ENOSPC
            case .closed: EBADF
            case .other: EIO
            }
        self.init(kind: kind, operation: operation, path: path, errno: code)
    }
}

/// SplitMix64, so simulated crashes replay from a printed seed. Private: tests have their own
/// (StromTestSupport's `SplitMix64`), and two visible types of one name would be ambiguous.
private struct CrashRandom: RandomNumberGenerator {
    private(set) var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<bound.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "empty range")
        return Int(next(upperBound: UInt64(bound)))
    }
}
