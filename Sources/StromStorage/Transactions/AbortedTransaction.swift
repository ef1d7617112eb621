import NIOCore

/// An aborted transaction in a partition (Kafka's `AbortedTxn`): its producer, the offset of its
/// first record here and the offset of its ABORT marker. A read_committed fetch returns those
/// that overlap the records it returns, so the consumer drops their records.
public struct AbortedTransaction: Sendable, Hashable {
    public var producerId: Int64
    public var firstOffset: Int64
    /// The marker's offset.
    public var lastOffset: Int64
    /// The last stable offset once this transaction ended (Kafka keeps it to bound index searches).
    public var lastStableOffset: Int64

    public init(producerId: Int64, firstOffset: Int64, lastOffset: Int64, lastStableOffset: Int64) {
        self.producerId = producerId
        self.firstOffset = firstOffset
        self.lastOffset = lastOffset
        self.lastStableOffset = lastStableOffset
    }
}

/// A segment's `.txnindex` in Kafka's format: the aborted transactions whose marker lies in the
/// segment, in marker order, each 34 bytes — version int16 (0), producer id int64, first offset
/// int64, last offset int64, last stable offset int64. Appended as markers are flushed; a
/// partial entry at the end (a write cut short) is ignored when read.
struct TransactionIndexFile: Sendable {
    static let suffix = ".txnindex"
    static let entrySizeBytes = 34
    static let version: Int16 = 0

    let path: String
    let fileSystem: any StorageFileSystem

    init(directory: String, baseOffset: Int64, fileSystem: any StorageFileSystem) {
        self.path = "\(directory)/\(LogSegment.fileName(baseOffset: baseOffset, suffix: Self.suffix))"
        self.fileSystem = fileSystem
    }

    /// The entries in the file (none when it does not exist).
    func read() throws(StorageIOError) -> [AbortedTransaction] {
        guard fileSystem.exists(path) else { return [] }
        let file = try fileSystem.open(path, create: false)
        defer { try? file.close() }
        let size = try file.size()
        var bytes = try file.read(at: 0, count: Int(size))
        var entries: [AbortedTransaction] = []
        while bytes.readableBytes >= Self.entrySizeBytes,
              let version = bytes.readInteger(endianness: .big, as: Int16.self), version == Self.version,
              let producerId = bytes.readInteger(endianness: .big, as: Int64.self),
              let firstOffset = bytes.readInteger(endianness: .big, as: Int64.self),
              let lastOffset = bytes.readInteger(endianness: .big, as: Int64.self),
              let lastStableOffset = bytes.readInteger(endianness: .big, as: Int64.self) {
            entries.append(AbortedTransaction(producerId: producerId, firstOffset: firstOffset, lastOffset: lastOffset, lastStableOffset: lastStableOffset))
        }
        return entries
    }

    /// Replaces the file's content with `entries` (synced), or removes it when there are none.
    func write(_ entries: [AbortedTransaction]) throws(StorageIOError) {
        guard !entries.isEmpty else {
            if fileSystem.exists(path) { try fileSystem.remove(path) }
            return
        }
        let file = try fileSystem.open(path, create: true)
        defer { try? file.close() }
        try file.truncate(to: 0)
        try file.write(Self.encode(entries), at: 0)
        try file.sync()
    }

    /// Adds `entries` after the `existingCount` already in the file, synced.
    func append(_ entries: [AbortedTransaction], after existingCount: Int) throws(StorageIOError) {
        let file = try fileSystem.open(path, create: true)
        defer { try? file.close() }
        try file.write(Self.encode(entries), at: Int64(existingCount * Self.entrySizeBytes))
        try file.sync()
    }

    static func encode(_ entries: [AbortedTransaction]) -> ByteBuffer {
        var bytes = ByteBuffer()
        bytes.reserveCapacity(entries.count * entrySizeBytes)
        for entry in entries {
            bytes.writeInteger(version, endianness: .big)
            bytes.writeInteger(entry.producerId, endianness: .big)
            bytes.writeInteger(entry.firstOffset, endianness: .big)
            bytes.writeInteger(entry.lastOffset, endianness: .big)
            bytes.writeInteger(entry.lastStableOffset, endianness: .big)
        }
        return bytes
    }
}
