public import NIOCore

/// A tagged field (KIP-482) kept as raw bytes: one this code does not know, or one on its way out.
public struct KafkaTaggedField: Hashable, Sendable {
    public var tag: UInt32
    public var data: ByteBuffer

    public init(tag: UInt32, data: ByteBuffer) {
        self.tag = tag
        self.data = data
    }
}

/// Collects the tagged fields of one struct and writes them in ascending tag order, merged with
/// the unknown ones the struct carried in. Only fields that differ from their default are added:
/// Kafka omits defaults, and librdkafka before 2.2 mis-skips any tagged field it is sent.
public struct KafkaTaggedFieldWriter {
    @usableFromInline var fields: [KafkaTaggedField] = []

    public init() {}

    @inlinable
    public mutating func append(tag: UInt32, data: ByteBuffer) {
        fields.append(KafkaTaggedField(tag: tag, data: data))
    }

    @inlinable
    public mutating func write(into buffer: inout ByteBuffer, unknown: [KafkaTaggedField]) throws(KafkaEncodingError) {
        if fields.isEmpty && unknown.isEmpty {
            buffer.writeInteger(UInt8(0))
            return
        }
        var all = fields + unknown
        all.sort { $0.tag < $1.tag }
        for index in all.indices.dropFirst() where all[index].tag == all[index - 1].tag {
            throw KafkaEncodingError.duplicateTaggedField(tag: all[index].tag)
        }
        buffer.writeKafkaUnsignedVarint(UInt32(all.count))
        for field in all {
            buffer.writeKafkaUnsignedVarint(field.tag)
            buffer.writeKafkaUnsignedVarint(UInt32(field.data.readableBytes))
            buffer.writeImmutableBuffer(field.data)
        }
    }
}
