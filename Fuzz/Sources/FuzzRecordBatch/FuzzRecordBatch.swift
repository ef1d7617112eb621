import KafkaProtocol
import NIOCore

/// Random bytes rarely pass a CRC, so this target wraps the input in a batch header with a valid
/// CRC: the first byte picks the codec and record count, the rest is the records section. That puts
/// the decompressors and the record parser, not just the checksum, under the fuzzer.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let control = data[0]
    let records = UnsafeBufferPointer(start: data + 1, count: size - 1)
    var batch = ByteBuffer()
    batch.writeInteger(Int64(0), endianness: .big)
    batch.writeInteger(Int32(49 + records.count), endianness: .big)
    batch.writeInteger(Int32(-1), endianness: .big)
    batch.writeInteger(Int8(2))
    batch.writeInteger(UInt32(0), endianness: .big)
    let crcStart = batch.writerIndex
    batch.writeInteger(Int16(control & 0x3F), endianness: .big)   // codec, timestamp type, flags
    let recordCount = Int32(control >> 4)
    batch.writeInteger(recordCount - 1, endianness: .big)
    batch.writeInteger(Int64(0), endianness: .big)
    batch.writeInteger(Int64(0), endianness: .big)
    batch.writeInteger(Int64(-1), endianness: .big)
    batch.writeInteger(Int16(-1), endianness: .big)
    batch.writeInteger(Int32(-1), endianness: .big)
    batch.writeInteger(recordCount, endianness: .big)
    batch.writeBytes(records)
    let crc = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[crcStart...])) }
    batch.setInteger(crc, at: 17, endianness: .big)

    guard let parsed = try? RecordBatch.read(from: &batch) else { return 0 }
    _ = try? parsed.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)
    if var iterator = try? parsed.records(decompressedSizeBytesMax: 1 << 20) {
        while let record = try? iterator.next() {
            for header in record.headers { _ = header.keyString }
        }
    }
    return 0
}
