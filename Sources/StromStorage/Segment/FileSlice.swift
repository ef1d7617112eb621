public import NIOCore

/// A byte range of a segment file: what a fetch sends (with sendfile where the file has a
/// descriptor). Holding the slice keeps the file open even if retention removes the segment.
public struct FileSlice: Sendable {
    public let file: any StorageFile
    public let position: Int64
    public let lengthBytes: Int

    /// Copies the bytes into memory (for simulated files, TLS connections and tests).
    public func read() throws(StorageIOError) -> ByteBuffer {
        try file.read(at: position, count: lengthBytes)
    }
}
