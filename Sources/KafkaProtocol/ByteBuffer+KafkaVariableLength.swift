public import NIOCore

// Strings, byte arrays, arrays and tagged fields in both encodings: classic (int16/int32 length,
// -1 for null) and compact (unsigned varint of length + 1, 0 for null; KIP-482). Every length is
// checked against the bytes actually left before anything is allocated or sliced.
extension ByteBuffer {
    /// A length prefix; nil means null.
    @inlinable
    mutating func readKafkaLength(compact: Bool, classicWidth: Int) throws(KafkaDecodingError) -> Int? {
        let length: Int64
        if compact {
            let raw = try readKafkaUnsignedVarint()
            if raw == 0 { return nil }
            length = Int64(raw) - 1
        } else {
            length = classicWidth == 2 ? Int64(try readKafkaInt16()) : Int64(try readKafkaInt32())
            if length == -1 { return nil }
            if length < -1 { throw KafkaDecodingError.negativeLength(length) }
        }
        guard length <= Int64(readableBytes) else {
            throw KafkaDecodingError.lengthOverrun(length: length, readableBytes: readableBytes)
        }
        return Int(length)
    }

    /// A string, nil when null. Invalid UTF-8 is repaired, as Kafka's Java decoder does.
    @inlinable
    public mutating func readKafkaString(compact: Bool) throws(KafkaDecodingError) -> String? {
        guard let length = try readKafkaLength(compact: compact, classicWidth: 2) else { return nil }
        guard length <= kafkaStringLengthMax else { throw KafkaDecodingError.stringTooLong(lengthBytes: length) }
        return readString(length: length)
    }

    /// A byte array as a slice of this buffer (no copy), nil when null.
    @inlinable
    public mutating func readKafkaBytes(compact: Bool) throws(KafkaDecodingError) -> ByteBuffer? {
        guard let length = try readKafkaLength(compact: compact, classicWidth: 4) else { return nil }
        return readSlice(length: length)
    }

    /// An array's element count, nil when null. A count above the bytes left is rejected up front,
    /// as every element takes at least one byte in any real message.
    @inlinable
    public mutating func readKafkaArrayCount(compact: Bool) throws(KafkaDecodingError) -> Int? {
        try readKafkaLength(compact: compact, classicWidth: 4)
    }

    @inlinable
    public mutating func readKafkaTaggedFieldCount() throws(KafkaDecodingError) -> Int {
        let count = try readKafkaUnsignedVarint()
        // Each tagged field takes at least two bytes (tag and size).
        guard Int(count) <= readableBytes / 2 else {
            throw KafkaDecodingError.lengthOverrun(length: Int64(count), readableBytes: readableBytes)
        }
        return Int(count)
    }

    /// One tagged field: its tag and a slice with its bytes.
    @inlinable
    public mutating func readKafkaTaggedField() throws(KafkaDecodingError) -> (tag: UInt32, data: ByteBuffer) {
        let tag = try readKafkaUnsignedVarint()
        let size = try readKafkaUnsignedVarint()
        guard Int(size) <= readableBytes, let data = readSlice(length: Int(size)) else {
            throw KafkaDecodingError.lengthOverrun(length: Int64(size), readableBytes: readableBytes)
        }
        return (tag, data)
    }

    @inlinable
    mutating func writeKafkaLength(_ length: Int, compact: Bool, classicWidth: Int) throws(KafkaEncodingError) {
        if compact {
            guard length < Int(UInt32.max) else { throw KafkaEncodingError.valueTooLarge(sizeBytes: length) }
            writeKafkaUnsignedVarint(UInt32(length + 1))
        } else if classicWidth == 2 {
            guard length <= Int(Int16.max) else { throw KafkaEncodingError.valueTooLarge(sizeBytes: length) }
            writeInteger(Int16(length), endianness: .big)
        } else {
            guard length <= Int(Int32.max) else { throw KafkaEncodingError.valueTooLarge(sizeBytes: length) }
            writeInteger(Int32(length), endianness: .big)
        }
    }

    @inlinable
    mutating func writeKafkaNull(compact: Bool, classicWidth: Int) {
        if compact {
            writeInteger(UInt8(0))
        } else if classicWidth == 2 {
            writeInteger(Int16(-1), endianness: .big)
        } else {
            writeInteger(Int32(-1), endianness: .big)
        }
    }

    @inlinable
    public mutating func writeKafkaString(_ value: String, compact: Bool) throws(KafkaEncodingError) {
        let length = value.utf8.count
        guard length <= kafkaStringLengthMax else { throw KafkaEncodingError.valueTooLarge(sizeBytes: length) }
        try writeKafkaLength(length, compact: compact, classicWidth: 2)
        writeString(value)
    }

    @inlinable
    public mutating func writeKafkaNullableString(
        _ value: String?, compact: Bool, nullAllowed: Bool, field: String, version: Int16
    ) throws(KafkaEncodingError) {
        if let value {
            try writeKafkaString(value, compact: compact)
        } else {
            try kafkaCheckNullAllowed(nullAllowed: nullAllowed, field: field, version: version)
            writeKafkaNull(compact: compact, classicWidth: 2)
        }
    }

    @inlinable
    public mutating func writeKafkaBytes(_ value: ByteBuffer, compact: Bool) throws(KafkaEncodingError) {
        try writeKafkaLength(value.readableBytes, compact: compact, classicWidth: 4)
        writeImmutableBuffer(value)
    }

    /// Only the length prefix of a non-null bytes or records field, for writers that send the
    /// bytes themselves (a zero-copy Fetch sends them from the segment file).
    public mutating func writeKafkaBytesLength(_ length: Int, compact: Bool) throws(KafkaEncodingError) {
        try writeKafkaLength(length, compact: compact, classicWidth: 4)
    }

    @inlinable
    public mutating func writeKafkaNullableBytes(
        _ value: ByteBuffer?, compact: Bool, nullAllowed: Bool, field: String, version: Int16
    ) throws(KafkaEncodingError) {
        if let value {
            try writeKafkaBytes(value, compact: compact)
        } else {
            try kafkaCheckNullAllowed(nullAllowed: nullAllowed, field: field, version: version)
            writeKafkaNull(compact: compact, classicWidth: 4)
        }
    }

    @inlinable
    public mutating func writeKafkaArrayCount(_ count: Int, compact: Bool) throws(KafkaEncodingError) {
        try writeKafkaLength(count, compact: compact, classicWidth: 4)
    }

    @inlinable
    public mutating func writeKafkaNullArray(compact: Bool, nullAllowed: Bool, field: String, version: Int16) throws(KafkaEncodingError) {
        try kafkaCheckNullAllowed(nullAllowed: nullAllowed, field: field, version: version)
        writeKafkaNull(compact: compact, classicWidth: 4)
    }

    /// The tagged-field section of a struct that has no known tagged fields.
    @inlinable
    public mutating func writeKafkaTaggedFields(_ fields: [KafkaTaggedField]) throws(KafkaEncodingError) {
        if fields.isEmpty {
            writeInteger(UInt8(0))
            return
        }
        var writer = KafkaTaggedFieldWriter()
        try writer.write(into: &self, unknown: fields)
    }
}
