import ArgumentParser
import NIOCore
import StromClient

/// `strom produce TOPIC`: each line of standard input becomes a record; with `--key-separator`
/// the text before the first separator is the key (a line without it has no key). Lines are sent
/// in requests of up to ``lineCountMax`` lines or ``requestSizeBytesMax`` bytes, and whenever the
/// input pauses, so lines typed at a terminal are sent as they are typed.
struct ProduceCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Write standard input to a topic, one record per line.")

    /// Kafka's console producer batches similarly: `batch.size` 16 KiB per partition and up to
    /// `max.request.size` (1 MiB) per request; 1000 lines keeps one request's memory small.
    static let lineCountMax = 1_000
    static let requestSizeBytesMax = 1 << 20

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic to write to.")
    var topic: String

    @Option(help: "Write every record to this partition (default: by key, or one partition per request for records without a key).")
    var partition: Int32?

    @Option(name: .customLong("key-separator"), help: ArgumentHelp("Split each line at the first SEP into key and value.", valueName: "SEP"))
    var keySeparator: String?

    @Option(parsing: .unconditional, help: "Acknowledgement: -1 (all in-sync replicas), 1 (the leader), 0 (none).")
    var acks = AcksArgument(.all)

    @Option(help: "Batch compression: none, gzip, snappy, lz4 or zstd.")
    var compression: CompressionArgument = .none

    func validate() throws {
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
        if keySeparator == "" { throw ValidationError("--key-separator must not be empty") }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        try await produce(client: client, input: StandardInput.chunks(), output: output)
    }

    /// Sends `input` as records and reports how many were written.
    func produce(client: KafkaClient, input: some AsyncSequence<ByteBuffer, any Error>, output: some CommandOutput) async throws {
        let separator = keySeparator.map { Array($0.utf8) }
        var lines = LineSplitter()
        var pending: [ProducerRecord] = []
        pending.reserveCapacity(Self.lineCountMax)
        var pendingSizeBytes = 0
        var written = 0

        func send() async throws {
            guard !pending.isEmpty else { return }
            let results = try await client.produce(topic: topic, records: pending, acks: acks.acks, compression: compression.codec)
            for result in results {
                if case .failure(let error) = result.baseOffset { throw error }
            }
            written += pending.count
            pending.removeAll(keepingCapacity: true)
            pendingSizeBytes = 0
        }

        func add(_ line: ByteBuffer) async throws {
            pending.append(record(from: line, separator: separator))
            pendingSizeBytes += line.readableBytes
            if pending.count >= Self.lineCountMax || pendingSizeBytes >= Self.requestSizeBytesMax { try await send() }
        }

        for try await chunk in input {
            lines.append(chunk)
            while let line = lines.nextLine() { try await add(line) }
            // The input paused (or a chunk's bound was reached): send what is complete.
            try await send()
        }
        if let last = lines.finish() { try await add(last) }
        try await send()
        // Without acknowledgements, make sure the broker has the records before the connection closes.
        if acks.acks == .unacknowledged { try await client.awaitRequestsProcessed() }
        output.write("wrote \(written) records to topic \(topic)\n")
    }

    private func record(from line: ByteBuffer, separator: [UInt8]?) -> ProducerRecord {
        guard let separator, let split = Self.firstIndex(of: separator, in: line) else {
            return ProducerRecord(value: line, partition: partition)
        }
        let key = line.getSlice(at: line.readerIndex, length: split - line.readerIndex)
        let valueStart = split + separator.count
        let value = line.getSlice(at: valueStart, length: line.writerIndex - valueStart)
        return ProducerRecord(key: key, value: value, partition: partition)
    }

    /// Where `separator` first starts in `line`'s readable bytes (an absolute index).
    static func firstIndex(of separator: [UInt8], in line: ByteBuffer) -> Int? {
        let bytes = line.readableBytesView
        guard let first = separator.first, bytes.count >= separator.count else { return nil }
        var index = bytes.startIndex
        while let candidate = bytes[index...].firstIndex(of: first) {
            guard candidate + separator.count <= bytes.endIndex else { return nil }
            if bytes[candidate..<(candidate + separator.count)].elementsEqual(separator) { return candidate }
            index = candidate + 1
        }
        return nil
    }
}
