import ArgumentParser
import NIOCore

/// `--payload text|random`: what record values are made of.
enum PayloadKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Random words from a fixed vocabulary (compresses about 3x, like real text).
    case text
    /// Uniform random bytes (incompressible).
    case random
}

/// Record values for the benchmarks: one 8 MiB pool made once from a fixed seed, and record `i`'s
/// value is the `size`-byte slice of it at a varying offset, so values differ from record to
/// record while nothing is allocated per record (a slice shares the pool's storage).
///
/// The pool, the seed and the slice offsets are kbench's (`../shared/bench/kbench.c`, `make_pool`
/// and `payload_at`): the same scenario sends the same bytes from either tool, so compressed
/// sizes, and the broker's work, match.
struct BenchPayload: Sendable {
    /// kbench's `POOL_BYTES`.
    static let poolSizeBytes = 8 << 20
    /// The largest value: a slice needs room to move in the pool.
    static let valueSizeBytesMax = poolSizeBytes / 2

    let kind: PayloadKind
    let valueSizeBytes: Int
    private let pool: ByteBuffer

    init(kind: PayloadKind, valueSizeBytes: Int) {
        precondition((0...Self.valueSizeBytesMax).contains(valueSizeBytes), "value size \(valueSizeBytes) out of range")
        self.kind = kind
        self.valueSizeBytes = valueSizeBytes
        pool = kind == .text ? Self.textPool : Self.randomPool
    }

    /// Where record `index`'s value starts in the pool (kbench's `payload_at`).
    func valueOffset(at index: Int) -> Int {
        Int(UInt64(truncatingIfNeeded: index) &* 2_654_435_761 % UInt64(Self.poolSizeBytes - valueSizeBytes))
    }

    /// Record `index`'s value: a slice of the pool, no copy.
    func value(at index: Int) -> ByteBuffer {
        guard let slice = pool.getSlice(at: pool.readerIndex + valueOffset(at: index), length: valueSizeBytes) else {
            // valueOffset keeps offset + size within the pool by construction.
            preconditionFailure("slice at \(valueOffset(at: index)) of \(valueSizeBytes) bytes is outside the pool")
        }
        return slice
    }

    // MARK: The pools, made once per process on first use

    private static let textPool = makePool(.text)
    private static let randomPool = makePool(.random)

    /// kbench's xorshift64 with its fixed seed, so the bytes are the same on every run and in both tools.
    private struct XorShift64 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    static func makePool(_ kind: PayloadKind) -> ByteBuffer {
        var random = XorShift64()
        var pool = ByteBuffer()
        pool.writeWithUnsafeMutableBytes(minimumWritableBytes: poolSizeBytes) { bytes in
            let pool = bytes.bindMemory(to: UInt8.self)
            switch kind {
            case .random:
                // kbench copies each 64-bit draw with memcpy: little-endian bytes on x86 and arm64.
                var position = 0
                while position < poolSizeBytes {
                    var draw = random.next()
                    for _ in 0..<8 {
                        pool[position] = UInt8(truncatingIfNeeded: draw)
                        draw >>= 8
                        position += 1
                    }
                }
            case .text:
                // 512 words of 3-10 letters, then words drawn at random, each followed by a space.
                var words: [[UInt8]] = []
                words.reserveCapacity(512)
                for _ in 0..<512 {
                    let length = 3 + Int(random.next() % 8)
                    words.append((0..<length).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) })
                }
                var position = 0
                while position < poolSizeBytes {
                    for letter in words[Int(random.next() % 512)] where position < poolSizeBytes {
                        pool[position] = letter
                        position += 1
                    }
                    if position < poolSizeBytes {
                        pool[position] = UInt8(ascii: " ")
                        position += 1
                    }
                }
            }
            return poolSizeBytes
        }
        return pool
    }
}
