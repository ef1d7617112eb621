import NIOCore

/// The sparse time index of one segment (`NNNNNNNNNNNNNNNNNNNN.timeindex`).
///
/// On disk: 12-byte entries, big-endian: the largest timestamp seen so far in the segment (int64,
/// ms) and the relative offset (uint32) of the last record of the batch that carried it. Written
/// beside offset-index entries when the largest timestamp has grown, so both timestamps and
/// offsets are strictly increasing. Like the offset index it is a rebuildable cache of the log.
struct TimeIndex {
    static let entrySizeBytes = 12

    let baseOffset: Int64
    private(set) var timestamps: [Int64] = []
    private(set) var relativeOffsets: [UInt32] = []

    init(baseOffset: Int64) {
        self.baseOffset = baseOffset
    }

    var count: Int { timestamps.count }
    var lastTimestamp: Int64? { timestamps.last }

    /// Adds an entry when it moves both timestamp and offset forward; returns whether it did.
    @discardableResult
    mutating func maybeAppend(timestampMs: Int64, offset: Int64) -> Bool {
        let relative = UInt32(offset - baseOffset)
        if let last = timestamps.last, timestampMs <= last { return false }
        if let last = relativeOffsets.last, relative <= last { return false }
        timestamps.append(timestampMs)
        relativeOffsets.append(relative)
        return true
    }

    static func encode(timestampMs: Int64, offset: Int64, baseOffset: Int64) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(timestampMs, endianness: .big)
        buffer.writeInteger(UInt32(offset - baseOffset), endianness: .big)
        return buffer
    }

    /// An offset from which scanning finds the first record with timestamp ≥ `timestampMs`: the
    /// offset after the last entry whose timestamp is below it (every record up to that entry's
    /// offset is older), or the base offset.
    func lookup(timestampMs: Int64) -> Int64 {
        var low = 0
        var high = timestamps.count
        while low < high {
            let middle = (low + high) / 2
            if timestamps[middle] < timestampMs { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? baseOffset : baseOffset + Int64(relativeOffsets[low - 1])
    }

    mutating func truncate(toOffset offset: Int64) {
        while let last = relativeOffsets.last, baseOffset + Int64(last) >= offset {
            relativeOffsets.removeLast()
            timestamps.removeLast()
        }
    }

    static func decode(_ bytes: ByteBuffer, baseOffset: Int64, logEndOffset: Int64) -> TimeIndex? {
        guard bytes.readableBytes % entrySizeBytes == 0 else { return nil }
        var index = TimeIndex(baseOffset: baseOffset)
        var input = bytes
        while let timestamp = input.readInteger(endianness: .big, as: Int64.self),
              let relative = input.readInteger(endianness: .big, as: UInt32.self) {
            guard baseOffset + Int64(relative) < logEndOffset, index.maybeAppend(timestampMs: timestamp, offset: baseOffset + Int64(relative))
            else { return nil }
        }
        return index
    }

    func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        for (timestamp, relative) in zip(timestamps, relativeOffsets) {
            buffer.writeInteger(timestamp, endianness: .big)
            buffer.writeInteger(relative, endianness: .big)
        }
        return buffer
    }
}
