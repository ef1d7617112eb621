import NIOCore

/// What a latency record's value starts with: kbench's layout (`LAT_HDR` in kbench.c), 24 bytes,
/// little-endian — magic `u32`, run nonce `u32`, sequence number `u64`, send time `i64`
/// (``MonotonicClock`` nanoseconds). The rest of the value is payload. The magic and the nonce
/// tell this run's records from an earlier run's on the same topic.
struct LatencyStamp: Sendable, Equatable {
    /// "STRM" (kbench uses "KBEN"), so the two tools never take each other's records.
    static let magic: UInt32 = 0x5354_524D
    static let sizeBytes = 24

    var nonce: UInt32
    var sequence: UInt64
    var sendNanoseconds: Int64

    /// Overwrites the first ``sizeBytes`` readable bytes of `value` (which must have them).
    func write(into value: inout ByteBuffer) {
        let at = value.readerIndex
        value.setInteger(Self.magic, at: at, endianness: .little)
        value.setInteger(nonce, at: at + 4, endianness: .little)
        value.setInteger(sequence, at: at + 8, endianness: .little)
        value.setInteger(sendNanoseconds, at: at + 16, endianness: .little)
    }

    /// The stamp at the start of `value`; nil for a value too short or without the magic.
    init?(reading value: ByteBuffer) {
        let at = value.readerIndex
        guard value.readableBytes >= Self.sizeBytes,
              value.getInteger(at: at, endianness: .little, as: UInt32.self) == Self.magic,
              let nonce = value.getInteger(at: at + 4, endianness: .little, as: UInt32.self),
              let sequence = value.getInteger(at: at + 8, endianness: .little, as: UInt64.self),
              let sendNanoseconds = value.getInteger(at: at + 16, endianness: .little, as: Int64.self)
        else { return nil }
        self.init(nonce: nonce, sequence: sequence, sendNanoseconds: sendNanoseconds)
    }

    init(nonce: UInt32, sequence: UInt64, sendNanoseconds: Int64) {
        self.nonce = nonce
        self.sequence = sequence
        self.sendNanoseconds = sendNanoseconds
    }
}
