import KafkaProtocol
import NIOCore
import StromStorage

/// A Fetch answer before encoding: the response without its record data, and where that data
/// lies in the segment files, partition by partition in response order.
struct FetchResult: Sendable {
    /// One partition's records: whole batches, in one or more segment file slices.
    struct PartitionRecords: Sendable {
        var topicIndex: Int
        var partitionIndex: Int
        var slices: [FileSlice]

        var sizeBytes: Int { slices.reduce(0) { $0 + $1.lengthBytes } }
    }

    /// Every partition's `records` is an empty set; ``records`` says what goes there.
    var response: FetchResponse
    var records: [PartitionRecords]

    /// The response with the records read into memory. A slice whose file was closed meanwhile
    /// (its segment deleted by retention or replaced by compaction) leaves that partition empty:
    /// the client fetches the same offset again and learns where the log now starts.
    func copyingRecords() -> FetchResponse {
        var response = response
        for partition in records {
            var bytes = ByteBuffer()
            bytes.reserveCapacity(partition.sizeBytes)
            do {
                for slice in partition.slices { bytes.writeImmutableBuffer(try slice.read()) }
            } catch {
                bytes.clear()
            }
            response.responses[partition.topicIndex].partitions[partition.partitionIndex].records = bytes
        }
        return response
    }
}
