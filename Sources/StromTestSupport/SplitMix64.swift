public import NIOCore
public import KafkaProtocol

/// A small seeded generator (SplitMix64) so property tests replay from a printed seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<bound.
    public mutating func below(_ bound: Int) -> Int { Int(next(upperBound: UInt64(bound))) }

    public mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }

    /// Edge values (0, ±1, min, max) a quarter of the time: where encodings break.
    public mutating func arbitraryInteger<T: FixedWidthInteger>(_: T.Type) -> T {
        if oneIn(4) {
            let edges: [T] = [0, 1, T.max, T.min, T.isSigned ? 0 &- 1 : 2]
            return edges[below(edges.count)]
        }
        return T(truncatingIfNeeded: next())
    }

    public mutating func arbitraryBool() -> Bool { next() & 1 == 1 }

    public mutating func arbitraryDouble() -> Double {
        oneIn(4) ? 0 : Double(Int64(bitPattern: next())) / Double(1 << 20)
    }

    /// ASCII, multi-byte UTF-8 and empty strings; lengths around the 1-byte varint boundary.
    public mutating func arbitraryString() -> String {
        let alphabet: [String] = ["a", "Z", "0", "-", "_", ".", "é", "日", "🙂", " "]
        let length = below(oneIn(8) ? 200 : 12)
        var text = ""
        for _ in 0..<length { text += alphabet[below(alphabet.count)] }
        return text
    }

    public mutating func arbitraryUUID() -> KafkaUUID { KafkaUUID(high: next(), low: next()) }

    public mutating func arbitraryBytes() -> ByteBuffer {
        let length = below(oneIn(8) ? 300 : 16)
        var buffer = ByteBuffer()
        for _ in 0..<length { buffer.writeInteger(UInt8(truncatingIfNeeded: next())) }
        return buffer
    }

    public mutating func arbitraryArray<Element>(_ make: (inout SplitMix64) -> Element) -> [Element] {
        let count = below(4)
        var elements: [Element] = []
        for _ in 0..<count { elements.append(make(&self)) }
        return elements
    }

    /// Tags far above any Kafka uses, ascending, so they never collide with known fields.
    public mutating func arbitraryUnknownTaggedFields() -> [KafkaTaggedField] {
        guard oneIn(3) else { return [] }
        var tag = UInt32(10_000 + below(100))
        var fields: [KafkaTaggedField] = []
        for _ in 0..<(1 + below(2)) {
            fields.append(KafkaTaggedField(tag: tag, data: arbitraryBytes()))
            tag += UInt32(1 + below(1_000))
        }
        return fields
    }
}
