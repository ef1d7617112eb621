/// Why bytes could not be decoded as a Kafka message. Every malformed input ends here, never in a trap.
public enum KafkaDecodingError: Error, Hashable, Sendable {
    /// The input ended `neededBytes` early.
    case truncated(neededBytes: Int)
    /// A length or count below -1 (only -1 means null).
    case negativeLength(Int64)
    /// A length or count larger than the bytes left, so it cannot be real.
    case lengthOverrun(length: Int64, readableBytes: Int)
    /// A varint longer than its type allows (5 bytes for 32 bits, 10 for 64).
    case varintTooLong
    /// A null where the version does not allow one.
    case unexpectedNull(field: String)
    /// A string over Kafka's 32,767-byte limit.
    case stringTooLong(lengthBytes: Int)
    /// A value outside what the format allows, e.g. a bad record batch field.
    case invalidValue(field: String, value: Int64)
}

/// Why a value could not be encoded at the requested version.
public enum KafkaEncodingError: Error, Hashable, Sendable {
    /// A non-default value in a field the version lacks and that Kafka marks as not ignorable.
    case fieldNotSupported(type: String, field: String, version: Int16)
    /// A null in a field that is not nullable at this version.
    case nullNotAllowed(field: String, version: Int16)
    /// A string, byte array or array too long for its length prefix.
    case valueTooLarge(sizeBytes: Int)
    /// An unknown tagged field uses a tag a known field of this version also writes.
    case duplicateTaggedField(tag: UInt32)
}

/// A string may hold at most 32,767 bytes: its classic length prefix is an int16 (Kafka checks the
/// same for compact strings).
@usableFromInline let kafkaStringLengthMax = Int(Int16.max)

/// Caps how much an array reserves before its elements are read, so that a count near the frame
/// size cannot make the decoder allocate count × element size up front; arrays grow as elements decode.
@usableFromInline let kafkaArrayReserveMax = 1024

@inlinable
func kafkaNonNull<Value>(_ value: Value?, field: String) throws(KafkaDecodingError) -> Value {
    guard let value else { throw KafkaDecodingError.unexpectedNull(field: field) }
    return value
}

@inlinable
func kafkaNullable<Value>(_ value: Value?, allowed: Bool, field: String) throws(KafkaDecodingError) -> Value? {
    if value == nil && !allowed { throw KafkaDecodingError.unexpectedNull(field: field) }
    return value
}

@inlinable
func kafkaCheckNullAllowed(nullAllowed: Bool, field: String, version: Int16) throws(KafkaEncodingError) {
    if !nullAllowed { throw KafkaEncodingError.nullNotAllowed(field: field, version: version) }
}
