import NIOCore

/// The validation pass over a records section: walks every record's framing (lengths, varints,
/// header counts) over raw bytes, skipping payloads. No slices are taken, so there is no reference
/// counting or allocation per record: the pass costs a few nanoseconds per record on top of the CRC.
/// ``RecordIterator`` parses the same layout when records are actually read; the two are checked
/// against each other by the record batch tests.
enum RecordFraming {
    struct Summary {
        var count: Int32 = 0
        var maxTimestampDelta = Int64.min
    }

    static func check(
        _ records: ByteBuffer, declaredCount: Int32, lastOffsetDelta: Int32, sequentialOffsets: Bool
    ) throws(RecordBatchError) -> Summary {
        let outcome: Result<Summary, RecordBatchError> = records.withUnsafeReadableBytes { raw in
            var reader = RawReader(bytes: raw)
            var summary = Summary()
            var previousOffsetDelta: Int32 = -1
            while !reader.isAtEnd {
                let index = summary.count
                guard index < declaredCount else {
                    return .failure(.invalidRecord(index: index, reason: "bytes after the declared \(declaredCount) records"))
                }
                guard let length = reader.varint(), length >= 0, length <= reader.remaining else {
                    return .failure(.invalidRecord(index: index, reason: "record length overruns the batch"))
                }
                let end = reader.position + Int(length)
                guard reader.skip(1), let timestampDelta = reader.varlong(), let offsetDelta = reader.varint(),
                      reader.skipBytesField(nullable: true), reader.skipBytesField(nullable: true),
                      let headerCount = reader.varint(), headerCount >= 0
                else {
                    return .failure(.invalidRecord(index: index, reason: "malformed record"))
                }
                for _ in 0..<headerCount {
                    guard reader.skipBytesField(nullable: false), reader.skipBytesField(nullable: true), reader.position <= end else {
                        return .failure(.invalidRecord(index: index, reason: "malformed record header"))
                    }
                }
                guard reader.position == end else {
                    return .failure(.invalidRecord(index: index, reason: "record length disagrees with its fields"))
                }
                if sequentialOffsets {
                    guard offsetDelta == index else {
                        return .failure(.invalidRecord(index: index, reason: "offset delta \(offsetDelta), expected \(index)"))
                    }
                } else {
                    guard offsetDelta > previousOffsetDelta, offsetDelta <= lastOffsetDelta else {
                        return .failure(.invalidRecord(index: index, reason: "offset delta \(offsetDelta) out of order"))
                    }
                }
                previousOffsetDelta = offsetDelta
                summary.maxTimestampDelta = Swift.max(summary.maxTimestampDelta, timestampDelta)
                summary.count += 1
            }
            guard summary.count == declaredCount else {
                return .failure(.recordCountMismatch(declared: declaredCount, found: summary.count))
            }
            return .success(summary)
        }
        return try outcome.get()
    }
}

/// A bounds-checked cursor over raw bytes for Kafka's ZigZag varints. Every read returns nil
/// instead of reading past the end.
struct RawReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var isAtEnd: Bool { position >= bytes.count }
    var remaining: Int { bytes.count - position }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        position += count
        return true
    }

    mutating func unsignedVarlong(maxBytes: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<maxBytes {
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    mutating func varint() -> Int32? {
        guard let raw = unsignedVarlong(maxBytes: 5), raw <= UInt64(UInt32.max) else { return nil }
        let value = UInt32(raw)
        return Int32(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }

    mutating func varlong() -> Int64? {
        guard let raw = unsignedVarlong(maxBytes: 10) else { return nil }
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A varint length (-1 = null when allowed) followed by that many bytes.
    mutating func skipBytesField(nullable: Bool) -> Bool {
        guard let length = varint() else { return false }
        if length == -1 { return nullable }
        return skip(Int(length))
    }
}
