public import NIOCore
import CCRC32C

/// CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches (the `crc` field covers everything from
/// `attributes` to the end of the batch).
///
/// Runs on the CPU's CRC-32C instruction when there is one (SSE 4.2 on x86-64, the ARMv8 CRC extension on
/// aarch64), detected at run time, and on a portable slice-by-8 table otherwise; both give the same result.
///
/// Checksums chain like zlib's `crc32`: start from `0` and pass each result back into
/// ``update(_:_:)`` to continue over more bytes:
///
/// ```swift
/// var crc: UInt32 = 0
/// crc = CRC32C.update(crc, firstPart)
/// crc = CRC32C.update(crc, secondPart)  // == CRC32C.checksum(firstPart + secondPart)
/// ```
public enum CRC32C {
    /// The CRC-32C of the readable bytes of `buffer`, read in place (no copy, indices unchanged).
    @inlinable
    public static func checksum(_ buffer: ByteBuffer) -> UInt32 {
        buffer.withUnsafeReadableBytes { update(0, $0) }
    }

    /// The CRC-32C of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// Continues a CRC-32C over more bytes.
    ///
    /// - Parameters:
    ///   - crc: The checksum of the bytes so far, `0` for none.
    ///   - bytes: The bytes that follow.
    /// - Returns: The checksum of the bytes so far followed by `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        strom_crc32c_update(crc, bytes.baseAddress, bytes.count)
    }

    /// Whether ``update(_:_:)`` uses a CPU instruction on this machine (else the slower table-driven path).
    public static var isHardwareAccelerated: Bool {
        strom_crc32c_is_hardware() != 0
    }

    /// ``update(_:_:)`` forced onto the portable table-driven path, so tests and benchmarks can compare the two.
    package static func updatePortable(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        strom_crc32c_update_portable(crc, bytes.baseAddress, bytes.count)
    }
}
