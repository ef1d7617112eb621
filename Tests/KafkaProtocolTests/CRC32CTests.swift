import Foundation
import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("CRC-32C")
struct CRC32CTests {
    /// Check values from RFC 3720 (iSCSI) appendix B.4 and the usual "123456789" check string.
    static let vectors: [(name: String, bytes: [UInt8], crc: UInt32)] = [
        ("123456789", Array("123456789".utf8), 0xE306_9283),
        ("32 zero bytes", [UInt8](repeating: 0x00, count: 32), 0x8A91_36AA),
        ("32 bytes 0xFF", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("32 ascending bytes 0...31", (0..<32).map { UInt8($0) }, 0x46DD_794E),
        ("32 descending bytes 31...0", (0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test("standard vectors, on both paths", arguments: CRC32CTests.vectors.indices)
    func standardVectors(index: Int) {
        let vector = Self.vectors[index]
        vector.bytes.withUnsafeBytes { bytes in
            #expect(CRC32C.checksum(bytes) == vector.crc, "\(vector.name)")
            #expect(CRC32C.updatePortable(0, bytes) == vector.crc, "\(vector.name) (portable)")
        }
        var buffer = ByteBufferAllocator().buffer(capacity: vector.bytes.count)
        buffer.writeBytes(vector.bytes)
        #expect(CRC32C.checksum(buffer) == vector.crc, "\(vector.name) (ByteBuffer)")
    }

    @Test("empty input leaves the running value unchanged")
    func emptyInput() {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(CRC32C.checksum(empty) == 0)
        #expect(CRC32C.update(0xE306_9283, empty) == 0xE306_9283)
        #expect(CRC32C.updatePortable(0xE306_9283, empty) == 0xE306_9283)
        #expect(CRC32C.checksum(ByteBuffer()) == 0)
    }

    @Test("ByteBuffer checksum covers only the readable bytes and moves no index")
    func byteBufferReadableBytesOnly() {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        buffer.writeBytes([0xDE, 0xAD, 0xBE, 0xEF])
        buffer.writeString("123456789")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(CRC32C.checksum(buffer) == 0xE306_9283)
        #expect(buffer.readerIndex == 4)
        #expect(buffer.readableBytes == 9)
    }

    /// Whether this CPU has the crc32 instruction (x86's SSE 4.2, arm64's crc32 feature), from the
    /// kernel's own list; nil where that list cannot be read.
    static func cpuHasCRCInstruction() -> Bool? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let flags = info.split(separator: "\n").filter { $0.hasPrefix("flags") || $0.hasPrefix("Features") }
            .flatMap { $0.split(separator: " ") }
        return flags.contains("sse4_2") || flags.contains("crc32")
    }

    @Test("hardware and portable paths agree on random lengths and alignments")
    func hardwareMatchesPortable() {
        let seed = testSeed()
        // Where the CPU has the instruction the hardware path must be the one in use; where it has
        // not, both calls run the portable code and this test only says so.
        if let hasInstruction = Self.cpuHasCRCInstruction() {
            #expect(CRC32C.isHardwareAccelerated == hasInstruction, "the CPU \(hasInstruction ? "has" : "lacks") the crc32 instruction")
        }
        print("CRC32CTests.hardwareMatchesPortable seed=\(seed) hardware=\(CRC32C.isHardwareAccelerated)"
            + (CRC32C.isHardwareAccelerated ? "" : " (no crc32 instruction: the portable path is compared with itself)"))
        var random = SplitMix64(seed: seed)
        let bytes = randomBytes(count: (1 << 20) + 64, using: &random)
        bytes.withUnsafeBytes { all in
            for iteration in 0..<2000 {
                // Mostly short lengths (the alignment and tail handling), sometimes long ones.
                let lengthMax = iteration % 10 == 0 ? (1 << 20) : 300
                let length = Int(random.next() % UInt64(lengthMax + 1))
                let offset = Int(random.next() % 64)
                let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                let crc = UInt32(truncatingIfNeeded: random.next())
                let hardware = CRC32C.update(crc, slice)
                let portable = CRC32C.updatePortable(crc, slice)
                #expect(hardware == portable, "seed=\(seed) offset=\(offset) length=\(length) crc=\(crc)")
                if hardware != portable { return }
            }
        }
    }

    @Test("incremental updates equal the one-shot checksum")
    func incrementalEqualsOneShot() {
        let seed = testSeed()
        print("CRC32CTests.incrementalEqualsOneShot seed=\(seed)")
        var random = SplitMix64(seed: seed)
        let bytes = randomBytes(count: 100_000, using: &random)
        bytes.withUnsafeBytes { all in
            let oneShot = CRC32C.checksum(all)
            for _ in 0..<50 {
                var crc: UInt32 = 0
                var crcPortable: UInt32 = 0
                var position = 0
                while position < all.count {
                    let chunkSizeBytes = min(all.count - position, Int(random.next() % 5000))
                    let chunk = UnsafeRawBufferPointer(rebasing: all[position..<(position + chunkSizeBytes)])
                    crc = CRC32C.update(crc, chunk)
                    crcPortable = CRC32C.updatePortable(crcPortable, chunk)
                    position += chunkSizeBytes
                }
                #expect(crc == oneShot, "seed=\(seed)")
                #expect(crcPortable == oneShot, "seed=\(seed)")
            }
        }
    }
}

/// The seed for a randomized test: `STROM_TEST_SEED` from the environment to replay a failure, else a fixed one.
private func testSeed() -> UInt64 {
    if let text = getenv("STROM_TEST_SEED"), let seed = UInt64(String(cString: text)) {
        return seed
    }
    return 0x5EED_C2C3_2C00_0001
}

/// `count` seeded random bytes.
private func randomBytes(count: Int, using random: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}
