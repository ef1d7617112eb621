import KafkaProtocol
import NIOCore

/// `<offset>.snapshot`: the producer state of a partition as it was at `offset` (Kafka's producer
/// snapshots, in Strom's own layout since Strom keeps five batches per producer where Kafka keeps
/// one). Written when a segment rolls (at the new segment's base offset) and when the log closes,
/// so that opening a log replays only the batches after the newest snapshot — and a retry of a
/// batch written long before a restart is still recognised.
///
///     version int16 (1) · crc32c uint32 of everything after it · producer count int32 ·
///     per producer: id int64 · epoch int16 · coordinator epoch int32 · last timestamp int64 ·
///       open transaction's first offset int64 (-1: none) · batch count int16 ·
///       per batch: first sequence int32 · last sequence int32 · first offset int64 · last offset int64
struct ProducerStateSnapshot: Sendable {
    static let suffix = ".snapshot"
    static let version: Int16 = 1

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func path(directory: String, offset: Int64) -> String {
        "\(directory)/\(LogSegment.fileName(baseOffset: offset, suffix: suffix))"
    }

    /// The offsets of the snapshots in `directory`, ascending.
    static func offsets(directory: String, fileSystem: any StorageFileSystem) throws(StorageIOError) -> [Int64] {
        try fileSystem.list(directory).compactMap { name -> Int64? in
            guard name.hasSuffix(suffix), name.count == 20 + suffix.count else { return nil }
            return Int64(name.prefix(20))
        }.sorted()
    }

    static func encode(_ producers: [Int64: ProducerStates.Producer]) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(Int32(producers.count), endianness: .big)
        for (producerId, producer) in producers.sorted(by: { $0.key < $1.key }) {
            body.writeInteger(producerId, endianness: .big)
            body.writeInteger(producer.epoch, endianness: .big)
            body.writeInteger(producer.coordinatorEpoch, endianness: .big)
            body.writeInteger(producer.lastTimestampMs, endianness: .big)
            body.writeInteger(producer.transactionFirstOffset ?? -1, endianness: .big)
            body.writeInteger(Int16(producer.batches.count), endianness: .big)
            for batch in producer.batches {
                body.writeInteger(batch.firstSequence, endianness: .big)
                body.writeInteger(batch.lastSequence, endianness: .big)
                body.writeInteger(batch.firstOffset, endianness: .big)
                body.writeInteger(batch.lastOffset, endianness: .big)
            }
        }
        var bytes = ByteBuffer()
        bytes.writeInteger(version, endianness: .big)
        bytes.writeInteger(CRC32C.checksum(body), endianness: .big)
        bytes.writeImmutableBuffer(body)
        return bytes
    }

    static func decode(_ bytes: ByteBuffer) throws(Malformed) -> [Int64: ProducerStates.Producer] {
        var bytes = bytes
        guard let version = bytes.readInteger(endianness: .big, as: Int16.self), version == Self.version else {
            throw Malformed(description: "unknown snapshot version")
        }
        guard let crc = bytes.readInteger(endianness: .big, as: UInt32.self),
              CRC32C.checksum(bytes) == crc else {
            throw Malformed(description: "checksum mismatch (a write cut short?)")
        }
        guard let count = bytes.readInteger(endianness: .big, as: Int32.self), count >= 0 else { throw Malformed(description: "bad producer count") }
        var producers: [Int64: ProducerStates.Producer] = [:]
        for _ in 0..<count {
            guard let producerId = bytes.readInteger(endianness: .big, as: Int64.self),
                  let epoch = bytes.readInteger(endianness: .big, as: Int16.self),
                  let coordinatorEpoch = bytes.readInteger(endianness: .big, as: Int32.self),
                  let lastTimestampMs = bytes.readInteger(endianness: .big, as: Int64.self),
                  let transactionFirstOffset = bytes.readInteger(endianness: .big, as: Int64.self),
                  let batchCount = bytes.readInteger(endianness: .big, as: Int16.self), batchCount >= 0
            else { throw Malformed(description: "truncated producer entry") }
            var producer = ProducerStates.Producer(
                epoch: epoch, batches: [], transactionFirstOffset: transactionFirstOffset >= 0 ? transactionFirstOffset : nil,
                coordinatorEpoch: coordinatorEpoch, lastTimestampMs: lastTimestampMs)
            for _ in 0..<batchCount {
                guard let firstSequence = bytes.readInteger(endianness: .big, as: Int32.self),
                      let lastSequence = bytes.readInteger(endianness: .big, as: Int32.self),
                      let firstOffset = bytes.readInteger(endianness: .big, as: Int64.self),
                      let lastOffset = bytes.readInteger(endianness: .big, as: Int64.self)
                else { throw Malformed(description: "truncated batch entry") }
                producer.batches.append(.init(firstSequence: firstSequence, lastSequence: lastSequence, firstOffset: firstOffset, lastOffset: lastOffset))
            }
            producers[producerId] = producer
        }
        return producers
    }

    /// Writes the snapshot for `offset` (to a temporary name, synced, then renamed: a reader sees
    /// it whole or not at all; the caller syncs the directory).
    static func write(_ producers: [Int64: ProducerStates.Producer], directory: String, offset: Int64, fileSystem: any StorageFileSystem) throws(StorageIOError) {
        let path = path(directory: directory, offset: offset)
        let file = try fileSystem.open(path + ".tmp", create: true)
        do throws(StorageIOError) {
            try file.truncate(to: 0)
            try file.write(encode(producers), at: 0)
            try file.sync()
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try fileSystem.rename(path + ".tmp", to: path)
    }

    /// Reads the snapshot for `offset`; nil when it is missing or damaged.
    static func read(directory: String, offset: Int64, fileSystem: any StorageFileSystem) -> [Int64: ProducerStates.Producer]? {
        let path = path(directory: directory, offset: offset)
        guard let file = try? fileSystem.open(path, create: false) else { return nil }
        defer { try? file.close() }
        guard let size = try? file.size(), size <= 1 << 30, let bytes = try? file.read(at: 0, count: Int(size)) else { return nil }
        return try? decode(bytes)
    }
}
