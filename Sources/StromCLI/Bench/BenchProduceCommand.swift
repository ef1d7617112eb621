import ArgumentParser
import StromClient

/// `strom bench produce --topic T --records N --size S ...`: produce throughput, as kbench's
/// `produce` measures it — from the first record batched to the last acknowledgement, MB = 10^6
/// bytes of values. Creates the topic with `--partitions` partitions unless it exists. Fails
/// (exit 1) on any error or when fewer records were acknowledged than sent.
struct BenchProduceCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Send N records of S bytes as fast as the broker acknowledges them.")

    @OptionGroup var connection: BootstrapOptions

    @Option(help: "The topic (created if missing).")
    var topic: String

    @Option(help: "Records to send.")
    var records = 1_000_000

    @Option(help: "Bytes per record value.")
    var size = 100

    @Option(help: "Value bytes: text (random words, ~3x compressible) or random (incompressible).")
    var payload: PayloadKind = .text

    @Option(parsing: .unconditional, help: "Acknowledgement: -1/all (all in-sync replicas), 1 (the leader), 0 (none).")
    var acks = AcksArgument(.leader)

    @Option(help: "Batch compression: none, gzip, snappy, lz4 or zstd.")
    var compression: CompressionArgument = .none

    @Option(help: "Partitions of the topic if it is created.")
    var partitions: Int32 = 1

    @Option(name: .customLong("batch-size"), help: "Largest batch per partition, bytes before compression.")
    var batchSizeBytes = 1 << 20

    @Option(name: .customLong("linger-ms"), help: "How long a request may wait to fill while a request slot is free.")
    var lingerMs = 5

    @Option(name: .customLong("in-flight"), help: "Produce requests outstanding per connection.")
    var inFlight = 5

    @Option(name: .customLong("timeout-s"), help: "Fail when the run takes longer.")
    var timeoutSeconds = 300

    /// Bounds of the options, each with its reason.
    static let batchSizeBytesMax = 64 << 20  // well under the broker's 100 MiB request limit

    func validate() throws {
        if records < 1 { throw ValidationError("--records must be at least 1") }
        if !(0...BenchPayload.valueSizeBytesMax).contains(size) {
            throw ValidationError("--size must be 0...\(BenchPayload.valueSizeBytesMax)")
        }
        if partitions < 1 { throw ValidationError("--partitions must be at least 1") }
        if !(1...Self.batchSizeBytesMax).contains(batchSizeBytes) { throw ValidationError("--batch-size must be 1...\(Self.batchSizeBytesMax)") }
        if lingerMs < 0 { throw ValidationError("--linger-ms must not be negative") }
        if !(1...ClientLimits.inFlightRequestsMax).contains(inFlight) {
            throw ValidationError("--in-flight must be 1...\(ClientLimits.inFlightRequestsMax)")
        }
        if timeoutSeconds < 1 { throw ValidationError("--timeout-s must be at least 1") }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let deadline = MonotonicClock.nowNanoseconds() + Int64(timeoutSeconds) * 1_000_000_000
        var json = BenchReport.commonFields(scenario: "produce", client: client, topic: topic)
        func addParameters(partitionCount: Int) {
            json.integer("partitions", partitionCount)
            json.integer("size", size)
            json.string("payload", payload.rawValue)
            json.string("acks", BenchReport.name(of: acks.acks))
            json.string("compression", compression.rawValue)
            json.integer("linger_ms", lingerMs)
            json.integer("batch_size", batchSizeBytes)
            json.integer("in_flight", inFlight)
        }
        let benchTopic: BenchTopic
        do {
            benchTopic = try await BenchTopic.prepare(topic, client: client, createWithPartitions: partitions, output: output)
        } catch {
            addParameters(partitionCount: Int(partitions))
            BenchReport.writeFailure(json, error: error, to: output)
            throw error
        }
        addParameters(partitionCount: benchTopic.partitionCount)
        let producer = BenchProducer(
            topic: benchTopic, payload: BenchPayload(kind: payload, valueSizeBytes: size), acks: acks.acks,
            compression: compression.codec, batchSizeBytes: batchSizeBytes, lingerMs: lingerMs, inFlightRequestsMax: inFlight)
        let outcome: Result<BenchProducer.Figures, any Error>
        do {
            outcome = .success(try await producer.run(recordCount: records, deadlineNanoseconds: deadline, timeoutSeconds: timeoutSeconds))
        } catch {
            outcome = .failure(error)
        }
        await benchTopic.close()
        do {
            let figures = try outcome.get()
            guard figures.acknowledged == records else {
                throw BenchError.acknowledgementsMissing(acknowledged: figures.acknowledged, expected: records)
            }
            let recordsPerSecond = Double(records) / figures.elapsedSeconds
            let megabytesPerSecond = Double(records) * Double(size) / figures.elapsedSeconds / 1e6
            output.write(
                "produce \(topic): \(records) x \(size) B acks=\(BenchReport.name(of: acks.acks)) comp=\(compression.rawValue) "
                    + "linger=\(lingerMs) part=\(benchTopic.partitionCount) batch=\(batchSizeBytes) in-flight=\(inFlight): "
                    + "\(BenchReport.format(recordsPerSecond, decimals: 0)) rec/s \(BenchReport.format(megabytesPerSecond, decimals: 1)) MB/s "
                    + "in \(BenchReport.format(figures.elapsedSeconds, decimals: 2)) s, requests=\(figures.requests)\n")
            json.integer("records", records)
            json.integer("requests", figures.requests)
            json.number("elapsed_s", figures.elapsedSeconds)
            json.number("records_per_s", recordsPerSecond)
            json.number("mb_per_s", megabytesPerSecond)
            json.bool("ok", true)
            output.write(json.line)
        } catch {
            BenchReport.writeFailure(json, error: error, to: output)
            throw error
        }
    }
}
