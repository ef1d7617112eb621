public import NIOCore

/// Kafka's default partitioner for keyed records: `toPositive(murmur2(key)) % partitionCount`
/// (`BuiltInPartitioner.partitionForKey`, `Utils.murmur2`), so the same key lands in the same
/// partition whichever Java-compatible client wrote it (librdkafka calls it `murmur2_random`).
public enum KeyPartitioner {
    public static func partition(forKey key: ByteBuffer, partitionCount: Int32) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return Int32(bitPattern: murmur2(key) & 0x7fff_ffff) % partitionCount
    }

    /// MurmurHash2, 32-bit, with Kafka's seed; the bytes are read little-endian in 4-byte words.
    public static func murmur2(_ key: ByteBuffer) -> UInt32 {
        let multiplier: UInt32 = 0x5bd1_e995
        return key.withUnsafeReadableBytes { bytes in
            let length = bytes.count
            var hash: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
            var index = 0
            while index + 4 <= length {
                var word = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
                word = word &* multiplier
                word ^= word >> 24
                word = word &* multiplier
                hash = hash &* multiplier
                hash ^= word
                index += 4
            }
            let tail = length - index
            if tail > 0 {
                // Java's switch falls through from 3 to 2 to 1.
                if tail >= 3 { hash ^= UInt32(bytes[index + 2]) << 16 }
                if tail >= 2 { hash ^= UInt32(bytes[index + 1]) << 8 }
                hash ^= UInt32(bytes[index])
                hash = hash &* multiplier
            }
            hash ^= hash >> 13
            hash = hash &* multiplier
            hash ^= hash >> 15
            return hash
        }
    }
}
