import KafkaProtocol
import NIOCore

/// Any bytes as a request frame (the part after the size prefix): decoding must end in a value or
/// a typed error, never a trap, and whatever decodes must encode again at its version.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let frame = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let request = try? KafkaRequestFrame.decode(frame) else { return 0 }
    var output = ByteBuffer()
    // Re-encoding may legitimately refuse (e.g. a null where a version forbids one); it must not trap.
    _ = try? request.body.write(into: &output, version: request.apiVersion)
    if case .produce(let produce) = request.body {
        // Records inside a produce request go through the batch parser as a broker would.
        for topic in produce.topicData {
            for partition in topic.partitionData {
                guard var records = partition.records else { continue }
                while records.readableBytes > 0, let batch = try? RecordBatch.read(from: &records, batchSizeBytesMax: 1 << 20) {
                    _ = try? batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
                }
            }
        }
    }
    return 0
}
