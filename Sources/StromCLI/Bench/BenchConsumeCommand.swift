import ArgumentParser
import StromClient

/// `strom bench consume --topic T --records N [--size S]`: consume throughput, as kbench's
/// `consume` measures it — every partition from its start, no consumer group, from the first
/// fetch to the N-th record; MB = 10^6 bytes of values. Fails (exit 1) on any error, an offset
/// that does not increase, a value of the wrong size, when no record arrived for
/// `--stall-timeout-ms`, or at `--timeout-s`.
struct BenchConsumeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Read N records from the start of every partition of a topic.")

    @OptionGroup var connection: BootstrapOptions

    @Option(help: "The topic (it must exist).")
    var topic: String

    @Option(help: "Records to read (default: those in the topic when the run starts).")
    var records: Int?

    @Option(help: "Check that every value has this many bytes.")
    var size: Int?

    @Option(name: .customLong("stall-timeout-ms"), help: "Fail when no record arrived for this long.")
    var stallTimeoutMs = 3_000

    @Option(name: .customLong("fetch-wait-ms"), help: "The longest a fetch waits for records (the broker's long poll).")
    var fetchWaitMs = 500

    @Option(name: .customLong("timeout-s"), help: "Fail when the run takes longer.")
    var timeoutSeconds = 300

    func validate() throws {
        if let records, records < 1 { throw ValidationError("--records must be at least 1") }
        if let size, size < 0 { throw ValidationError("--size must not be negative") }
        if stallTimeoutMs < 1 { throw ValidationError("--stall-timeout-ms must be at least 1") }
        if !(0...Int(Int32.max)).contains(fetchWaitMs) { throw ValidationError("--fetch-wait-ms must be 0...\(Int32.max)") }
        if timeoutSeconds < 1 { throw ValidationError("--timeout-s must be at least 1") }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let deadline = MonotonicClock.nowNanoseconds() + Int64(timeoutSeconds) * 1_000_000_000
        var json = BenchReport.commonFields(scenario: "consume", client: client, topic: topic)
        json.integer("size", size ?? -1)
        json.integer("fetch_wait_ms", fetchWaitMs)
        do {
            let consumer = BenchConsumer(topic: topic, valueSizeBytes: size, stallTimeoutMs: stallTimeoutMs, fetchWaitMsMax: fetchWaitMs)
            let figures = try await consumer.run(
                client: client, recordCount: records, deadlineNanoseconds: deadline, timeoutSeconds: timeoutSeconds)
            let recordsPerSecond = Double(figures.records) / figures.elapsedSeconds
            let megabytesPerSecond = Double(figures.valueBytes) / figures.elapsedSeconds / 1e6
            output.write(
                "consume \(topic): \(figures.records) records (\(BenchReport.format(Double(figures.valueBytes) / 1e6, decimals: 1)) MB) "
                    + "part=\(figures.partitionCount): \(BenchReport.format(recordsPerSecond, decimals: 0)) rec/s "
                    + "\(BenchReport.format(megabytesPerSecond, decimals: 1)) MB/s in \(BenchReport.format(figures.elapsedSeconds, decimals: 2)) s\n")
            json.integer("partitions", figures.partitionCount)
            json.integer("records", figures.records)
            json.integer("bytes", figures.valueBytes)
            json.integer("available", figures.available)
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
