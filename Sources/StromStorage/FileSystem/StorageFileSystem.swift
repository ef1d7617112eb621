import Synchronization
public import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The log's only way to the disk. Two implementations: ``PosixFileSystem`` (blocking syscalls on
/// the caller's thread, which is the partition owner's) and ``SimulatedFileSystem`` (in memory,
/// with power-loss and fault injection for tests). Paths are plain strings, absolute or relative
/// to the process's working directory.
public protocol StorageFileSystem: Sendable {
    /// Opens a file for reading and writing, creating it if `create` is set.
    func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile
    /// Names (not paths) of the entries in `directory`, unordered.
    func list(_ directory: String) throws(StorageIOError) -> [String]
    func createDirectory(_ path: String) throws(StorageIOError)
    /// Replaces `destination` atomically (POSIX rename semantics).
    func rename(_ source: String, to destination: String) throws(StorageIOError)
    func remove(_ path: String) throws(StorageIOError)
    /// Removes a directory and everything in it.
    func removeTree(_ path: String) throws(StorageIOError)
    func exists(_ path: String) -> Bool
    /// Makes creations, renames and removals inside `directory` durable (fsync on the directory).
    func syncDirectory(_ path: String) throws(StorageIOError)
}

/// An open file. Not thread-safe by itself: the log that owns it serialises access, except that
/// positional reads (`read(at:count:)`) of bytes already written may run concurrently with appends.
public protocol StorageFile: AnyObject, Sendable {
    var path: String { get }
    /// Writes all of `bytes` at `position` (pwrite, retried until complete).
    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError)
    /// Writes `head` then `body` back to back at `position`: one pwritev where the file system
    /// has it, so a batch with a patched header goes out without copying its payload.
    func write(_ head: ByteBuffer, _ body: ByteBuffer, at position: Int64) throws(StorageIOError)
    /// Reads up to `count` bytes at `position`; fewer only at the end of the file.
    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer
    func size() throws(StorageIOError) -> Int64
    /// Makes every write so far durable (fdatasync).
    func sync() throws(StorageIOError)
    func truncate(to sizeBytes: Int64) throws(StorageIOError)
    func close() throws(StorageIOError)
    /// The POSIX descriptor for a zero-copy send (sendfile through NIO's FileRegion), kept valid
    /// until the lease is released even if the file is closed meanwhile (retention, compaction,
    /// topic deletion). Nil for simulated files, which the broker then reads and copies, and for
    /// closed files.
    func leaseDescriptor() -> StorageFileLease?
}

extension StorageFile {
    public func write(_ head: ByteBuffer, _ body: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try write(head, at: position)
        try write(body, at: position + Int64(head.readableBytes))
    }
}

/// A borrowed descriptor: the file's descriptor is not released (so its number cannot be reused
/// by another file) until ``release()`` runs, whichever comes first of it and the lease's end.
public final class StorageFileLease: Sendable {
    public let descriptor: Int32
    private let onRelease: Mutex<(@Sendable () -> Void)?>

    public init(descriptor: Int32, onRelease: @escaping @Sendable () -> Void) {
        self.descriptor = descriptor
        self.onRelease = Mutex(onRelease)
    }

    /// Gives the descriptor back; later calls do nothing.
    public func release() {
        onRelease.withLock { action in
            defer { action = nil }
            return action
        }?()
    }

    deinit { release() }
}

/// A failed file operation, with the OS error (errno) and what was being done.
public struct StorageIOError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case notFound
        case noSpace
        case closed
        case other
    }

    public var kind: Kind
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(kind: Kind, operation: String, path: String, errno: Int32 = 0) {
        self.kind = kind
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// With the system's words for the errno ("Too many open files"), so that an operator reading
    /// the one line knows what to change.
    public var description: String {
        let reason = errno != 0 ? String(cString: strerror(errno)) : "\(kind)"
        return "\(operation) \(path): \(reason) (errno \(errno))"
    }
}
