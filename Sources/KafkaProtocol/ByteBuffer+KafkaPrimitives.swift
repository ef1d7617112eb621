public import NIOCore

// Fixed-width big-endian values as Kafka's protocol writes them. Reads throw instead of returning
// nil so that generated decoders stay straight-line code.
extension ByteBuffer {
    @inlinable
    mutating func readKafkaInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(KafkaDecodingError) -> T {
        guard let value = self.readInteger(endianness: .big, as: T.self) else {
            throw KafkaDecodingError.truncated(neededBytes: MemoryLayout<T>.size - self.readableBytes)
        }
        return value
    }

    @inlinable public mutating func readKafkaInt8() throws(KafkaDecodingError) -> Int8 { try readKafkaInteger() }
    @inlinable public mutating func readKafkaInt16() throws(KafkaDecodingError) -> Int16 { try readKafkaInteger() }
    @inlinable public mutating func readKafkaUInt16() throws(KafkaDecodingError) -> UInt16 { try readKafkaInteger() }
    @inlinable public mutating func readKafkaInt32() throws(KafkaDecodingError) -> Int32 { try readKafkaInteger() }
    @inlinable public mutating func readKafkaUInt32() throws(KafkaDecodingError) -> UInt32 { try readKafkaInteger() }
    @inlinable public mutating func readKafkaInt64() throws(KafkaDecodingError) -> Int64 { try readKafkaInteger() }

    /// Kafka reads any non-zero byte as true.
    @inlinable public mutating func readKafkaBool() throws(KafkaDecodingError) -> Bool {
        try readKafkaInt8() != 0
    }

    @inlinable public mutating func readKafkaFloat64() throws(KafkaDecodingError) -> Double {
        Double(bitPattern: try readKafkaInteger(as: UInt64.self))
    }

    @inlinable public mutating func readKafkaUUID() throws(KafkaDecodingError) -> KafkaUUID {
        let high: UInt64 = try readKafkaInteger()
        let low: UInt64 = try readKafkaInteger()
        return KafkaUUID(high: high, low: low)
    }

    @inlinable public mutating func writeKafkaInt8(_ value: Int8) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaInt16(_ value: Int16) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaUInt16(_ value: UInt16) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaInt32(_ value: Int32) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaUInt32(_ value: UInt32) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaInt64(_ value: Int64) { writeInteger(value, endianness: .big) }
    @inlinable public mutating func writeKafkaBool(_ value: Bool) { writeInteger(UInt8(value ? 1 : 0)) }
    @inlinable public mutating func writeKafkaFloat64(_ value: Double) { writeInteger(value.bitPattern, endianness: .big) }
    @inlinable public mutating func writeKafkaUUID(_ value: KafkaUUID) {
        writeInteger(value.high, endianness: .big)
        writeInteger(value.low, endianness: .big)
    }
}
