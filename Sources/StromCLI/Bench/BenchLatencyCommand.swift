import ArgumentParser
import StromClient

/// `strom bench latency --topic T --rate R --duration-s D`: end-to-end and produce-ack latency
/// at a steady rate, as kbench's `latency` measures it (see ``BenchLatencyRun``): nearest-rank
/// p50/p99/p99.9/max in µs over the records after `--warmup-s`. Warns on the error stream when
/// the achieved rate is below 95 % of `--rate` (sends were late, so latencies understate).
/// Fails (exit 1) unless every record was acknowledged and consumed exactly once.
struct BenchLatencyCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency", abstract: "Produce at a steady rate and time each record to its acknowledgement and its consumer.")

    @OptionGroup var connection: BootstrapOptions

    @Option(help: "The topic (created if missing).")
    var topic: String

    @Option(help: "Records per second.")
    var rate = 1_000

    @Option(name: .customLong("duration-s"), help: "Seconds measured, after the warm-up.")
    var durationSeconds: Double = 20

    @Option(name: .customLong("warmup-s"), help: "Seconds sent and checked first but not counted.")
    var warmupSeconds: Double = 2

    @Option(help: "Bytes per record value (at least the 24-byte stamp).")
    var size = 100

    @Option(help: "Value bytes after the stamp: text or random.")
    var payload: PayloadKind = .text

    @Option(parsing: .unconditional, help: "Acknowledgement: -1/all, 1 or 0.")
    var acks = AcksArgument(.leader)

    @Option(help: "Batch compression: none, gzip, snappy, lz4 or zstd.")
    var compression: CompressionArgument = .none

    @Option(help: "Partitions of the topic if it is created.")
    var partitions: Int32 = 1

    @Option(name: .customLong("fetch-wait-ms"), help: "The consumer's long poll (librdkafka's fetch.wait.max.ms).")
    var fetchWaitMs = 500

    @Option(name: .customLong("drain-timeout-ms"), help: "How long to wait for records still unread after the last acknowledgement; those missing then are lost.")
    var drainTimeoutMs = 15_000

    @Option(name: .customLong("timeout-s"), help: "Fail when the run takes longer (default: warm-up + duration + 60).")
    var timeoutSeconds: Int?

    /// kbench's bound on the rate.
    static let rateMax = 1_000_000
    /// Two 8-byte figures per record are kept: 10 M records are 160 MB.
    static let recordCountMax = 10_000_000

    var warmupRecordCount: Int { Int(Double(rate) * warmupSeconds) }
    var measuredRecordCount: Int { Int(Double(rate) * durationSeconds) }

    func validate() throws {
        if !(1...Self.rateMax).contains(rate) { throw ValidationError("--rate must be 1...\(Self.rateMax)") }
        if !(durationSeconds > 0) || !(warmupSeconds >= 0) { throw ValidationError("--duration-s must be positive and --warmup-s not negative") }
        if !(1...Self.recordCountMax).contains(measuredRecordCount) || warmupRecordCount + measuredRecordCount > Self.recordCountMax {
            throw ValidationError("rate x duration must be 1...\(Self.recordCountMax) records, warm-up included")
        }
        if !(LatencyStamp.sizeBytes...BenchPayload.valueSizeBytesMax).contains(size) {
            throw ValidationError("--size must be \(LatencyStamp.sizeBytes)...\(BenchPayload.valueSizeBytesMax) for latency")
        }
        if partitions < 1 { throw ValidationError("--partitions must be at least 1") }
        if !(0...Int(Int32.max)).contains(fetchWaitMs) { throw ValidationError("--fetch-wait-ms must be 0...\(Int32.max)") }
        if !(1...3_600_000).contains(drainTimeoutMs) { throw ValidationError("--drain-timeout-ms must be 1...3600000") }
        if let timeoutSeconds, timeoutSeconds < 1 { throw ValidationError("--timeout-s must be at least 1") }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let timeout = timeoutSeconds ?? Int((warmupSeconds + durationSeconds).rounded(.up)) + 60
        let deadline = MonotonicClock.nowNanoseconds() + Int64(timeout) * 1_000_000_000
        var json = BenchReport.commonFields(scenario: "latency", client: client, topic: topic)
        func addParameters(partitionCount: Int) {
            json.integer("partitions", partitionCount)
            json.integer("size", size)
            json.string("payload", payload.rawValue)
            json.string("acks", BenchReport.name(of: acks.acks))
            json.string("compression", compression.rawValue)
            json.integer("linger_ms", 0)
            json.integer("rate", rate)
            json.number("duration_s", durationSeconds)
            json.number("warmup_s", warmupSeconds)
            json.integer("fetch_wait_ms", fetchWaitMs)
        }
        let benchTopic: BenchTopic
        let consumerClient: KafkaClient
        do {
            benchTopic = try await BenchTopic.prepare(topic, client: client, createWithPartitions: partitions, output: output)
        } catch {
            addParameters(partitionCount: Int(partitions))
            BenchReport.writeFailure(json, error: error, to: output)
            throw error
        }
        addParameters(partitionCount: benchTopic.partitionCount)
        do {
            consumerClient = try await KafkaClient.connect(
                host: client.bootstrap.host, port: client.bootstrap.port, clientId: "strom-bench-consumer",
                requestTimeout: client.bootstrap.requestTimeout)
        } catch {
            await benchTopic.close()
            BenchReport.writeFailure(json, error: error, to: output)
            throw error
        }
        let run = BenchLatencyRun(
            topic: benchTopic, payload: BenchPayload(kind: payload, valueSizeBytes: size), acks: acks.acks,
            compression: compression.codec, rate: rate, warmupRecordCount: warmupRecordCount,
            measuredRecordCount: measuredRecordCount, fetchWaitMs: fetchWaitMs, drainTimeoutMs: drainTimeoutMs)
        let outcome: Result<BenchLatencyRun.Figures, any Error>
        do {
            outcome = .success(try await run.run(consumerClient: consumerClient, deadlineNanoseconds: deadline, timeoutSeconds: timeout))
        } catch {
            outcome = .failure(error)
        }
        await consumerClient.close()
        await benchTopic.close()
        do {
            let figures = try outcome.get()
            if figures.rateAchieved < 0.95 * Double(rate) {
                output.writeError("strom bench: WARN: achieved \(BenchReport.format(figures.rateAchieved, decimals: 0)) rec/s < 95% of \(rate)\n")
            }
            let (e2e, ack) = (figures.endToEnd, figures.acknowledgement)
            func us(_ value: Double) -> String { BenchReport.format(value, decimals: 0) + "us" }
            output.write(
                "latency \(topic): rate=\(rate)/s \(BenchReport.format(durationSeconds, decimals: durationSeconds == durationSeconds.rounded() ? 0 : 2))s size=\(size) "
                    + "acks=\(BenchReport.name(of: acks.acks)) comp=\(compression.rawValue) part=\(benchTopic.partitionCount): "
                    + "e2e p50=\(us(e2e.p50Us)) p99=\(us(e2e.p99Us)) p99.9=\(us(e2e.p999Us)) max=\(us(e2e.maxUs)) | "
                    + "ack p50=\(us(ack.p50Us)) p99=\(us(ack.p99Us)) p99.9=\(us(ack.p999Us)) max=\(us(ack.maxUs))\n")
            json.number("rate_achieved", figures.rateAchieved)
            json.integer("records", measuredRecordCount)
            json.integer("warmup_records", warmupRecordCount)
            for (prefix, figures) in [("e2e", e2e), ("ack", ack)] {
                json.number("\(prefix)_p50_us", figures.p50Us)
                json.number("\(prefix)_p99_us", figures.p99Us)
                json.number("\(prefix)_p999_us", figures.p999Us)
                json.number("\(prefix)_max_us", figures.maxUs)
                json.number("\(prefix)_mean_us", figures.meanUs)
            }
            // A run that returned figures consumed every record exactly once.
            json.integer("lost", 0)
            json.integer("dups", 0)
            json.integer("foreign", figures.foreign)
            json.bool("ok", true)
            output.write(json.line)
        } catch {
            if case .deliveryFailed(let received, let expected, let duplicates) = error as? BenchError {
                json.integer("lost", expected - received)
                json.integer("dups", duplicates)
            }
            BenchReport.writeFailure(json, error: error, to: output)
            throw error
        }
    }
}
