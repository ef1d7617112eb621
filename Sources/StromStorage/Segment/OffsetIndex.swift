import NIOCore

/// The sparse offset index of one segment (`NNNNNNNNNNNNNNNNNNNN.index`).
///
/// On disk: 8-byte entries, big-endian: relative offset (uint32, offset − segment base offset) of
/// the last record of a batch, then the byte position (uint32) where that batch starts in the
/// `.log` file. One entry is written after every `index.interval.bytes` of log data, as Kafka does,
/// so a lookup lands at most that many bytes before the batch it wants. Entries are strictly
/// increasing in both fields. The file is not preallocated; its size is a multiple of 8.
///
/// The index is a cache of the log: if the file is missing, short, unsorted or points past the log,
/// it is rebuilt from the `.log` file during recovery. Entries are kept in memory too (8 bytes per
/// 4 KiB of log by default), so lookups never touch the disk.
struct OffsetIndex {
    static let entrySizeBytes = 8

    let baseOffset: Int64
    private(set) var relativeOffsets: [UInt32] = []
    private(set) var positions: [UInt32] = []

    init(baseOffset: Int64) {
        self.baseOffset = baseOffset
    }

    var count: Int { relativeOffsets.count }
    var lastOffset: Int64? { relativeOffsets.last.map { baseOffset + Int64($0) } }

    /// Adds an entry; the caller writes `encodedEntry` to the file at `count - 1` × 8.
    mutating func append(offset: Int64, position: Int64) {
        precondition(offset >= baseOffset && offset - baseOffset <= Int64(UInt32.max), "offset \(offset) outside segment \(baseOffset)")
        precondition(position <= Int64(UInt32.max), "position \(position) beyond 4 GiB")
        let relative = UInt32(offset - baseOffset)
        if let last = relativeOffsets.last, relative <= last { return }
        relativeOffsets.append(relative)
        positions.append(UInt32(position))
    }

    static func encode(offset: Int64, position: Int64, baseOffset: Int64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(offset - baseOffset), endianness: .big)
        buffer.writeInteger(UInt32(position), endianness: .big)
        return buffer
    }

    /// A position at or before the start of the batch that contains `offset`: the start of the
    /// batch after the last indexed batch ending before `offset`, or 0 when no entry helps.
    func lookup(offset: Int64) -> Int64 {
        guard offset > baseOffset, !relativeOffsets.isEmpty else { return 0 }
        let target = offset - baseOffset
        // Largest entry with relative offset < target: its batch ends before `offset`, so the
        // batch holding `offset` starts at or after that entry's batch.
        var low = 0
        var high = relativeOffsets.count
        while low < high {
            let middle = (low + high) / 2
            if Int64(relativeOffsets[middle]) < target { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : Int64(positions[low - 1])
    }

    /// Drops entries at or after `position` (the log was truncated there).
    mutating func truncate(toPosition position: Int64) {
        while let last = positions.last, Int64(last) >= position {
            positions.removeLast()
            relativeOffsets.removeLast()
        }
    }

    /// Parses an index file; nil when it is not a valid index for a log of `logSizeBytes`
    /// (then the caller rebuilds it).
    static func decode(_ bytes: ByteBuffer, baseOffset: Int64, logSizeBytes: Int64) -> OffsetIndex? {
        guard bytes.readableBytes % entrySizeBytes == 0 else { return nil }
        var index = OffsetIndex(baseOffset: baseOffset)
        var input = bytes
        index.relativeOffsets.reserveCapacity(bytes.readableBytes / entrySizeBytes)
        index.positions.reserveCapacity(bytes.readableBytes / entrySizeBytes)
        while let relative = input.readInteger(endianness: .big, as: UInt32.self),
              let position = input.readInteger(endianness: .big, as: UInt32.self) {
            if let last = index.relativeOffsets.last, relative <= last || position <= index.positions.last ?? 0 { return nil }
            guard Int64(position) < logSizeBytes else { return nil }
            index.relativeOffsets.append(relative)
            index.positions.append(position)
        }
        return index
    }

    func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count * Self.entrySizeBytes)
        for (relative, position) in zip(relativeOffsets, positions) {
            buffer.writeInteger(relative, endianness: .big)
            buffer.writeInteger(position, endianness: .big)
        }
        return buffer
    }
}
