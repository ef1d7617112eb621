public import NIOCore

// Kafka's varints: unsigned LEB128 for lengths and tags in flexible versions (KIP-482), and ZigZag
// varint/varlong inside record batches (KIP-98). Over-long encodings are rejected, not truncated.
extension ByteBuffer {
    /// An unsigned varint of at most 5 bytes holding 32 bits.
    @inlinable
    public mutating func readKafkaUnsignedVarint() throws(KafkaDecodingError) -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw KafkaDecodingError.truncated(neededBytes: 1) }
            if shift == 28 && byte > 0x0F { throw KafkaDecodingError.varintTooLong }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// An unsigned varint of at most 10 bytes holding 64 bits.
    @inlinable
    public mutating func readKafkaUnsignedVarlong() throws(KafkaDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw KafkaDecodingError.truncated(neededBytes: 1) }
            if shift == 63 && byte > 0x01 { throw KafkaDecodingError.varintTooLong }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A ZigZag-encoded signed 32-bit varint.
    @inlinable
    public mutating func readKafkaVarint() throws(KafkaDecodingError) -> Int32 {
        let raw = try readKafkaUnsignedVarint()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A ZigZag-encoded signed 64-bit varlong.
    @inlinable
    public mutating func readKafkaVarlong() throws(KafkaDecodingError) -> Int64 {
        let raw = try readKafkaUnsignedVarlong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inlinable
    @discardableResult
    public mutating func writeKafkaUnsignedVarint(_ value: UInt32) -> Int {
        writeKafkaUnsignedVarlong(UInt64(value))
    }

    @inlinable
    @discardableResult
    public mutating func writeKafkaUnsignedVarlong(_ value: UInt64) -> Int {
        var remaining = value
        var written = 0
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
            written += 1
        }
        writeInteger(UInt8(remaining))
        return written + 1
    }

    @inlinable
    @discardableResult
    public mutating func writeKafkaVarint(_ value: Int32) -> Int {
        writeKafkaUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    @inlinable
    @discardableResult
    public mutating func writeKafkaVarlong(_ value: Int64) -> Int {
        writeKafkaUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
}

/// Bytes a ZigZag varint/varlong takes, for sizing record batches before writing them.
@inlinable
public func kafkaVarlongSize(_ value: Int64) -> Int {
    kafkaUnsignedVarlongSize(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
}

@inlinable
public func kafkaUnsignedVarlongSize(_ value: UInt64) -> Int {
    // 7 payload bits per byte; at least one byte.
    let bits = 64 - value.leadingZeroBitCount
    return Swift.max(1, (bits + 6) / 7)
}
