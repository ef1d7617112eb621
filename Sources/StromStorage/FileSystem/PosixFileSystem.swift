import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ``StorageFileSystem`` over blocking POSIX syscalls, made on the caller's thread.
///
/// The log calls it from its partition owner, which batches appends, so a syscall per call is the
/// cost we want (DESIGN.md, "Foundations verified on this machine": a thread-pool hop per write is
/// too slow for the append path). Every failure is a ``StorageIOError`` carrying errno and the
/// syscall's name.
public struct PosixFileSystem: StorageFileSystem {
    /// Permission bits for new files, before the umask: owner read/write, everyone else read.
    static let fileMode: mode_t = 0o644
    /// Permission bits for new directories, before the umask.
    static let directoryMode: mode_t = 0o755

    public init() {}

    /// Opens `path` read-write (`O_RDWR | O_CLOEXEC`, plus `O_CREAT` with mode 0644 if `create`).
    /// - Throws: `.notFound` if the file (or, with `create`, its directory) does not exist.
    public func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0)
        let descriptor = try retryingInterrupts("open", path) { systemOpen(path, flags, Self.fileMode) }
        return PosixFile(path: path, descriptor: descriptor)
    }

    /// Names of the entries in `directory`, without `.` and `..`, in the order readdir returns them.
    public func list(_ directory: String) throws(StorageIOError) -> [String] {
        guard let stream = opendir(directory) else { throw .posix("opendir", directory) }
        defer { closedir(stream) }
        var names: [String] = []
        // Bounded by the directory's size: readdir returns nil at the end or on error.
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw .posix("readdir", directory) }
                return names
            }
            let name = Self.name(of: entry)
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// The name in a directory entry, read in place.
    ///
    /// The kernel's record is only as long as its name (`d_reclen`), not `sizeof(struct dirent)`:
    /// copying the 256-byte `d_name` field (as `entry.pointee.d_name` does) reads past a short last
    /// record and crashed the broker when readdir's buffer ended at an unmapped page.
    static func name(of entry: UnsafePointer<dirent>) -> String {
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        return String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
    }

    /// Creates `path` and any missing parents (`mkdir -p`); an existing directory is not an error.
    /// - Throws: `.other` (ENOTDIR or EEXIST) if a component exists and is not a directory.
    public func createDirectory(_ path: String) throws(StorageIOError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += component
            if mkdir(prefix, Self.directoryMode) != 0 {
                let code = errno
                // EEXIST is fine if it names a directory; checking afterwards (not before) avoids a
                // race with another creator of the same directory.
                guard code == EEXIST, isDirectory(prefix) else {
                    throw StorageIOError(errno: code, operation: "mkdir", path: prefix)
                }
            }
            prefix += "/"
        }
    }

    /// `rename(2)`: replaces `destination` atomically; durable only after ``syncDirectory(_:)`` on
    /// both parents.
    public func rename(_ source: String, to destination: String) throws(StorageIOError) {
        if systemRename(source, destination) != 0 { throw .posix("rename", source) }
    }

    /// Removes a file (`unlink`) or an empty directory (`rmdir`).
    public func remove(_ path: String) throws(StorageIOError) {
        if unlink(path) == 0 { return }
        // Linux answers EISDIR for a directory; POSIX (and Darwin) say EPERM. Read errno before
        // isDirectory's stat can overwrite it.
        let code = errno
        guard code == EISDIR || code == EPERM, isDirectory(path) else {
            throw StorageIOError(errno: code, operation: "unlink", path: path)
        }
        if rmdir(path) != 0 { throw .posix("rmdir", path) }
    }

    /// Removes `path` and, if it is a directory, everything under it. Symbolic links are removed,
    /// never followed.
    /// - Throws: `.notFound` if `path` does not exist.
    public func removeTree(_ path: String) throws(StorageIOError) {
        var status = stat()
        if lstat(path, &status) != 0 { throw .posix("lstat", path) }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            if unlink(path) != 0 { throw .posix("unlink", path) }
            return
        }
        // Recursion depth is bounded by the tree's depth, itself bounded by PATH_MAX.
        for name in try list(path) {
            try removeTree(path + "/" + name)
        }
        if rmdir(path) != 0 { throw .posix("rmdir", path) }
    }

    public func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    /// `fsync` on the directory itself: the only way to make entries created, renamed or removed
    /// in it survive a power cut.
    public func syncDirectory(_ path: String) throws(StorageIOError) {
        let descriptor = try retryingInterrupts("open", path) {
            systemOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        }
        defer { _ = systemClose(descriptor) }
        if fsync(descriptor) != 0 { throw .posix("fsync", path) }
    }

    private func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }
}

/// An open POSIX file descriptor.
///
/// Sendable without `@unchecked`: `path` and the descriptor are immutable, and the only mutable
/// state, whether the handle is closed and how many calls are using the descriptor, lives in a
/// `Mutex`. Counting calls in flight matters because the protocol lets positional reads run
/// concurrently with other use: if `close()` released the descriptor while a `pread` on another
/// thread was about to run, the kernel could hand the same number to a newly opened file, and that
/// read (or a write) would hit the wrong file. So `close()` marks the handle closed at once and the
/// last call still in flight releases the descriptor.
final class PosixFile: StorageFile {
    let path: String
    private let fileDescriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var isClosed = false
        var inFlightCount = 0
    }

    init(path: String, descriptor: Int32) {
        self.path = path
        self.fileDescriptor = descriptor
    }

    deinit {
        // No call can be in flight (each holds a reference); release a descriptor never closed.
        if !state.withLock({ $0.isClosed }) { _ = systemClose(fileDescriptor) }
    }

    /// Counts as a call in flight until released, so `close()` leaves the descriptor open for it.
    func leaseDescriptor() -> StorageFileLease? {
        guard let descriptor = try? borrowDescriptor("sendfile") else { return nil }
        return StorageFileLease(descriptor: descriptor) { [self] in returnDescriptor() }
    }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        precondition(position >= 0, "negative file position \(position)")
        let descriptor = try borrowDescriptor("pwrite")
        defer { returnDescriptor() }
        // pwrite may write fewer bytes than asked (signals, quotas); loop until all are written.
        let failure: Int32? = bytes.withUnsafeReadableBytes { source in
            var writtenCount = 0
            while writtenCount < source.count {
                let result = pwrite(
                    descriptor, source.baseAddress! + writtenCount, source.count - writtenCount,
                    off_t(position) + off_t(writtenCount))
                if result > 0 {
                    writtenCount += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    // Zero bytes for a non-empty request would loop forever; treat it as an I/O error.
                    return result == 0 ? EIO : errno
                }
            }
            return nil
        }
        if let failure { throw StorageIOError(errno: failure, operation: "pwrite", path: path) }
    }

    func write(_ head: ByteBuffer, _ body: ByteBuffer, at position: Int64) throws(StorageIOError) {
        precondition(position >= 0, "negative file position \(position)")
        let descriptor = try borrowDescriptor("pwritev")
        let written: Int = head.withUnsafeReadableBytes { headBytes in
            body.withUnsafeReadableBytes { bodyBytes in
                var vectors = [
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: headBytes.baseAddress), iov_len: headBytes.count),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress), iov_len: bodyBytes.count),
                ]
                while true {
                    let result = pwritev(descriptor, &vectors, 2, off_t(position))
                    if result >= 0 || errno != EINTR { return result }
                }
            }
        }
        returnDescriptor()
        if written < 0 { throw StorageIOError(errno: errno, operation: "pwritev", path: path) }
        // A short write (signals, quotas): the rest goes with pwrite's retrying loop.
        let total = head.readableBytes + body.readableBytes
        guard written < total else { return }
        var rest = ByteBuffer()
        rest.reserveCapacity(total - written)
        if written < head.readableBytes { rest.writeImmutableBuffer(head.getSlice(at: head.readerIndex + written, length: head.readableBytes - written)!) }
        let bodySkip = max(0, written - head.readableBytes)
        rest.writeImmutableBuffer(body.getSlice(at: body.readerIndex + bodySkip, length: body.readableBytes - bodySkip)!)
        try write(rest, at: position + Int64(written))
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer {
        precondition(position >= 0 && count >= 0, "bad read of \(count) bytes at \(position)")
        let descriptor = try borrowDescriptor("pread")
        defer { returnDescriptor() }
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        guard count > 0 else { return buffer }
        var failure: Int32?
        // pread straight into the buffer's storage; stop early only at end of file (result 0).
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            var readCount = 0
            while readCount < count {
                let result = pread(
                    descriptor, destination.baseAddress! + readCount, count - readCount,
                    off_t(position) + off_t(readCount))
                if result > 0 {
                    readCount += result
                } else if result == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
            return readCount
        }
        if let failure { throw StorageIOError(errno: failure, operation: "pread", path: path) }
        return buffer
    }

    func size() throws(StorageIOError) -> Int64 {
        let descriptor = try borrowDescriptor("fstat")
        defer { returnDescriptor() }
        var status = stat()
        if fstat(descriptor, &status) != 0 { throw .posix("fstat", path) }
        return Int64(status.st_size)
    }

    func sync() throws(StorageIOError) {
        let descriptor = try borrowDescriptor("fdatasync")
        defer { returnDescriptor() }
        // fdatasync also flushes the size when it changed, which is all a reader needs; the
        // directory entry is syncDirectory's job.
        _ = try retryingInterrupts("fdatasync", path) { systemDataSync(descriptor) }
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        let descriptor = try borrowDescriptor("ftruncate")
        defer { returnDescriptor() }
        _ = try retryingInterrupts("ftruncate", path) { ftruncate(descriptor, off_t(sizeBytes)) }
    }

    /// Closes the handle; further calls (including a second `close`) throw `.closed`. If another
    /// thread is still inside a call, the descriptor is released when that call returns.
    func close() throws(StorageIOError) {
        let isLastUser = try state.withLock { (state) throws(StorageIOError) -> Bool in
            if state.isClosed { throw closedError("close") }
            state.isClosed = true
            return state.inFlightCount == 0
        }
        // Never retry close on EINTR: Linux has released the descriptor already, and a retry could
        // close a descriptor another thread just opened.
        if isLastUser && systemClose(fileDescriptor) != 0 && errno != EINTR {
            throw .posix("close", path)
        }
    }

    private func borrowDescriptor(_ operation: String) throws(StorageIOError) -> Int32 {
        try state.withLock { (state) throws(StorageIOError) -> Void in
            if state.isClosed { throw closedError(operation) }
            state.inFlightCount += 1
        }
        return fileDescriptor
    }

    private func returnDescriptor() {
        let closeNow = state.withLock { state in
            state.inFlightCount -= 1
            return state.isClosed && state.inFlightCount == 0
        }
        // close() ran while we were using the descriptor and left its release to us; nobody is
        // left to report an error to, and fdatasync, not close, is what makes data durable.
        if closeNow { _ = systemClose(fileDescriptor) }
    }

    private func closedError(_ operation: String) -> StorageIOError {
        StorageIOError(kind: .closed, operation: operation, path: path, errno: EBADF)
    }
}

extension StorageIOError {
    /// Classifies an errno value, keeping it and the failed operation.
    init(errno code: Int32, operation: String, path: String) {
        let kind: Kind
        switch code {
        case ENOENT: kind = .notFound
        case ENOSPC, EDQUOT: kind = .noSpace
        case EBADF: kind = .closed
        default: kind = .other
        }
        self.init(kind: kind, operation: operation, path: path, errno: code)
    }

    /// The error for a syscall that just failed, read from the thread's errno.
    static func posix(_ operation: String, _ path: String) -> StorageIOError {
        StorageIOError(errno: currentErrno(), operation: operation, path: path)
    }
}

/// Runs a syscall that returns -1 on failure, again while it fails with EINTR.
private func retryingInterrupts(
    _ operation: String, _ path: String, _ call: () -> Int32
) throws(StorageIOError) -> Int32 {
    // A signal storm could interrupt forever in theory; each retry means a signal was handled,
    // so this terminates when signals stop, like every EINTR loop.
    while true {
        let result = call()
        if result != -1 { return result }
        if errno != EINTR { throw .posix(operation, path) }
    }
}

// The types above have methods named open, close and rename that shadow the C functions; these
// file-level wrappers reach the C ones without naming the platform module.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func currentErrno() -> Int32 { errno }
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func systemRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }

/// Flushes a file's data (and its size) to stable storage.
private func systemDataSync(_ descriptor: Int32) -> Int32 {
    #if os(Linux)
    return fdatasync(descriptor)
    #else
    // Darwin's fsync only reaches the drive's cache; F_FULLFSYNC asks the drive to flush it.
    return fcntl(descriptor, F_FULLFSYNC)
    #endif
}
