import KafkaProtocol
import NIOCore
import StromStorage

/// Encodes a Fetch response whose record data goes from the segment files to the socket with
/// sendfile, never through user space.
///
/// The generated codec writes the whole response; each partition's records field holds a 16-byte
/// token instead of the data (a per-response random nonce and the partition's index). The encoded
/// frame is then cut at each token: the token and its length prefix are replaced by the real
/// length prefix and the file slices, and the frame's size prefix is corrected. Only the records
/// fields' own prefixes and the frame size depend on the data's length: Fetch has no enclosing
/// byte-size fields around records.
enum FetchResponseSplicer {
    /// The frame in parts, and what to call once it is written (gives the descriptors back).
    struct Spliced: Sendable {
        var parts: [KafkaResponsePart]
        var release: @Sendable () -> Void
    }

    static let tokenSizeBytes = 16

    /// - Returns: nil when a slice's file cannot be sent from (a simulated file, or one closed
    ///   since it was read); the caller then copies the records instead.
    static func encode(_ result: FetchResult, version: Int16, correlationId: Int32) throws(KafkaEncodingError) -> Spliced? {
        var leases: [StorageFileLease] = []
        var leasedSlices: [[(StorageFileLease, FileSlice)]] = []
        for partition in result.records {
            var partitionSlices: [(StorageFileLease, FileSlice)] = []
            for slice in partition.slices {
                guard let lease = slice.file.leaseDescriptor() else {
                    leases.forEach { $0.release() }
                    return nil
                }
                leases.append(lease)
                partitionSlices.append((lease, slice))
            }
            leasedSlices.append(partitionSlices)
        }
        let taken = leases
        let release: @Sendable () -> Void = { taken.forEach { $0.release() } }

        let nonce = UInt64.random(in: .min ... .max)
        var response = result.response
        for (index, partition) in result.records.enumerated() {
            var token = ByteBuffer()
            token.writeInteger(nonce)
            token.writeInteger(UInt64(index))
            response.responses[partition.topicIndex].partitions[partition.partitionIndex].records = token
        }
        var frame = ByteBuffer()
        do {
            try KafkaResponseFrame.encode(response, version: version, correlationId: correlationId, into: &frame)
        } catch {
            release()
            throw error
        }

        // Tokens appear in the order the records were listed: topics, then partitions, in order.
        let compact = version >= 12
        let tokenPrefixBytes = compact ? 1 : 4
        var tokenPositions: [Int] = []
        var searchFrom = frame.readerIndex
        for index in result.records.indices {
            guard let position = find(nonce: nonce, index: UInt64(index), in: frame, from: searchFrom) else {
                release()
                return nil
            }
            tokenPositions.append(position)
            searchFrom = position + tokenSizeBytes
        }

        var prefixes: [ByteBuffer] = []
        for partition in result.records {
            var prefix = ByteBuffer()
            try prefix.writeKafkaBytesLength(partition.sizeBytes, compact: compact)
            prefixes.append(prefix)
        }
        let totalBytes = frame.readableBytes
            + result.records.indices.reduce(0) { sum, index in
                sum + prefixes[index].readableBytes + result.records[index].sizeBytes - tokenPrefixBytes - tokenSizeBytes
            }
        frame.setInteger(Int32(totalBytes - 4), at: frame.readerIndex, endianness: .big)

        var parts: [KafkaResponsePart] = []
        var cursor = frame.readerIndex
        for (index, position) in tokenPositions.enumerated() {
            let prefixStart = position - tokenPrefixBytes
            parts.append(.bytes(frame.getSlice(at: cursor, length: prefixStart - cursor)!))
            parts.append(.bytes(prefixes[index]))
            for (lease, slice) in leasedSlices[index] {
                parts.append(.file(KafkaResponseFileSlice(
                    fileDescriptor: lease.descriptor, positionBytes: Int(slice.position), sizeBytes: slice.lengthBytes)))
            }
            cursor = position + tokenSizeBytes
        }
        parts.append(.bytes(frame.getSlice(at: cursor, length: frame.writerIndex - cursor)!))
        // The first part carries the size prefix; an empty part elsewhere (nothing after the last
        // records field) is dropped.
        let nonEmpty = parts.enumerated().filter { $0.offset == 0 || $0.element.sizeBytes > 0 }.map(\.element)
        return Spliced(parts: nonEmpty, release: release)
    }

    /// The position of the token `nonce`+`index` at or after `start`.
    private static func find(nonce: UInt64, index: UInt64, in frame: ByteBuffer, from start: Int) -> Int? {
        var position = start
        while position + tokenSizeBytes <= frame.writerIndex {
            if frame.getInteger(at: position, as: UInt64.self) == nonce, frame.getInteger(at: position + 8, as: UInt64.self) == index {
                return position
            }
            position += 1
        }
        return nil
    }
}
