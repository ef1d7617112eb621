import Foundation
import KafkaProtocol
import NIOCore
import StromClient
import Testing

@testable import StromCLI

/// `strom bench produce|consume|latency` against an in-process broker: counts, the JSON line,
/// and the ways a run fails. Small runs (thousands of records), each bounded by its own
/// `--timeout-s`/`--stall-timeout-ms` and by the suite's time limit.
@Suite(.timeLimit(.minutes(2))) struct BenchCommandTests {
    /// Parses `arguments` (after `strom bench <command>`), runs the command the way `strom` does,
    /// and returns its exit status, output and parsed JSON line.
    func run<Command: ClientCommand>(
        _ command: Command.Type, _ arguments: [String], port: Int
    ) async throws -> (status: Int32, output: CapturedOutput, json: [String: Any]) {
        let parsed = try Command.parse(arguments + ["--bootstrap", "127.0.0.1:\(port)"])
        let output = CapturedOutput()
        let status = await parsed.runReportingErrors(output: output)
        return (status.rawValue, output, try jsonLine(in: output.standardOutput))
    }

    /// The one `JSON {...}` line of a run's standard output, parsed.
    func jsonLine(in text: String) throws -> [String: Any] {
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("JSON ") }
        try #require(lines.count == 1, "one JSON line in \(text)")
        let object = try JSONSerialization.jsonObject(with: Data(lines[0].dropFirst(5).utf8))
        return try #require(object as? [String: Any], "a JSON object: \(lines[0])")
    }

    func endOffsets(_ client: KafkaClient, topic: String) async throws -> [Int32: Int64] {
        try await client.listOffsets(topic: topic, spec: .latest).mapValues { try #require(try $0.get().offset) }
    }

    // MARK: produce and consume

    @Test func produceThenConsumeEveryRecord() async throws {
        try await withBrokerAndClient { client, port in
            // 16 KiB batches hold 137 records of 100 B (19 B framing at most, 61 B header): with the
            // linger out of the way, 1,000 records per partition take ⌈1000 / 137⌉ = 8 requests.
            let produce = try await run(
                BenchProduceCommand.self,
                ["--topic", "bench", "--records", "2000", "--size", "100", "--partitions", "2", "--batch-size", "16384",
                 "--in-flight", "3", "--linger-ms", "60000", "--compression", "lz4"],
                port: port)
            #expect(produce.status == 0, "\(produce.output.standardError)")
            #expect(produce.output.standardOutput.hasPrefix(
                "produce bench: 2000 x 100 B acks=1 comp=lz4 linger=60000 part=2 batch=16384 in-flight=3: "))
            #expect(produce.json["scenario"] as? String == "produce")
            #expect(produce.json["records"] as? Int == 2_000)
            #expect(produce.json["partitions"] as? Int == 2)
            #expect(produce.json["size"] as? Int == 100)
            #expect(produce.json["acks"] as? String == "1")
            #expect(produce.json["compression"] as? String == "lz4")
            #expect(produce.json["requests"] as? Int == 8)
            #expect(produce.json["ok"] as? Bool == true)
            let recordsPerSecond = try #require(produce.json["records_per_s"] as? Double)
            let megabytesPerSecond = try #require(produce.json["mb_per_s"] as? Double)
            #expect(recordsPerSecond > 0 && (produce.json["elapsed_s"] as? Double).map { $0 >= 0 } == true)
            // MB are 10^6 bytes of values: 100 B records make 10^-4 MB each (3 decimals printed).
            #expect(abs(megabytesPerSecond - recordsPerSecond * 100 / 1e6) < 0.001)
            #expect(try await endOffsets(client, topic: "bench") == [0: 1_000, 1: 1_000])

            let consume = try await run(BenchConsumeCommand.self, ["--topic", "bench", "--records", "2000", "--size", "100"], port: port)
            #expect(consume.status == 0, "\(consume.output.standardError)")
            #expect(consume.output.standardOutput.hasPrefix("consume bench: 2000 records (0.2 MB) part=2: "))
            #expect(consume.json["records"] as? Int == 2_000)
            #expect(consume.json["bytes"] as? Int == 200_000)
            #expect(consume.json["available"] as? Int == 2_000)
            #expect(consume.json["partitions"] as? Int == 2)
            #expect((consume.json["records_per_s"] as? Double ?? 0) > 0)
            #expect((consume.json["mb_per_s"] as? Double ?? 0) > 0)
            #expect(consume.json["ok"] as? Bool == true)

            // Without --records: what the topic held at the start.
            let all = try await run(BenchConsumeCommand.self, ["--topic", "bench"], port: port)
            #expect(all.status == 0 && all.json["records"] as? Int == 2_000)
        }
    }

    @Test(arguments: ["0", "-1"])
    func produceHonoursAcks(acks: String) async throws {
        try await withBrokerAndClient { client, port in
            let produce = try await run(
                BenchProduceCommand.self, ["--topic", "acks", "--records", "500", "--size", "10", "--acks", acks, "--payload", "random"],
                port: port)
            #expect(produce.status == 0, "\(produce.output.standardError)")
            #expect(produce.json["acks"] as? String == (acks == "0" ? "0" : "all"))
            #expect(produce.json["payload"] as? String == "random")
            // With acks=0 the run ends with a round trip, so the broker has every record by then.
            #expect(try await endOffsets(client, topic: "acks") == [0: 500])
        }
    }

    @Test func produceFailsOnABrokerErrorAndNotesAnotherPartitionCount() async throws {
        try await withBrokerAndClient { client, port in
            try await client.createTopic(NewTopic(name: "small", partitionCount: 1, configs: ["max.message.bytes": "1000"]))
            let produce = try await run(
                BenchProduceCommand.self, ["--topic", "small", "--records", "500", "--size", "100", "--partitions", "3", "--batch-size", "16384"],
                port: port)
            #expect(produce.status == 1)
            #expect(produce.output.standardError.contains("strom bench: note: topic small has 1 partitions (asked 3)\n"))
            #expect(produce.output.standardError.contains("strom: MESSAGE_TOO_LARGE (10): topic \"small\" partition 0"))
            #expect(produce.json["ok"] as? Bool == false)
            #expect((produce.json["error"] as? String)?.hasPrefix("MESSAGE_TOO_LARGE") == true)
            #expect(produce.json["partitions"] as? Int == 1)
        }
    }

    @Test func consumeOfMoreRecordsThanExistFailsAfterTheStall() async throws {
        try await withBroker { port in
            _ = try await run(BenchProduceCommand.self, ["--topic", "short", "--records", "100", "--size", "20"], port: port)
            let clock = ContinuousClock()
            let started = clock.now
            let consume = try await run(
                BenchConsumeCommand.self, ["--topic", "short", "--records", "101", "--stall-timeout-ms", "300"], port: port)
            let elapsed = clock.now - started
            #expect(consume.status == 1)
            #expect(consume.output.standardError == "strom: lost records: end of all partitions after 100 of 101\n")
            #expect(consume.json["ok"] as? Bool == false)
            #expect(consume.json["error"] as? String == "lost records: end of all partitions after 100 of 101")
            // The stall, not the 300 s run timeout, ended it (generous bound for a loaded machine).
            #expect(elapsed < .seconds(10), "took \(elapsed)")

            // With a longer stall allowance the run's own timeout ends it.
            let timedOut = try await run(
                BenchConsumeCommand.self, ["--topic", "short", "--records", "101", "--stall-timeout-ms", "60000", "--timeout-s", "1"],
                port: port)
            #expect(timedOut.status == 1)
            #expect(timedOut.output.standardError == "strom: timeout (1 s) while consuming\n")
            #expect(timedOut.json["error"] as? String == "timeout (1 s) while consuming")
        }
    }

    @Test func consumeChecksValueSizesAndTheTopic() async throws {
        try await withBroker { port in
            _ = try await run(BenchProduceCommand.self, ["--topic", "sized", "--records", "50", "--size", "100"], port: port)
            let wrongSize = try await run(BenchConsumeCommand.self, ["--topic", "sized", "--records", "50", "--size", "99"], port: port)
            #expect(wrongSize.status == 1)
            #expect(wrongSize.output.standardError == "strom: record at 0/0 has 100 bytes, expected 99\n")
            #expect(wrongSize.json["ok"] as? Bool == false)

            let missing = try await run(BenchConsumeCommand.self, ["--topic", "missing", "--records", "1"], port: port)
            #expect(missing.status == 1)
            #expect(missing.output.standardError.hasPrefix("strom: UNKNOWN_TOPIC_OR_PARTITION (3): topic \"missing\""))
            #expect(missing.json["ok"] as? Bool == false)
        }
    }

    // MARK: latency

    @Test func latencyTimesEveryRecordOnce() async throws {
        try await withBrokerAndClient { client, port in
            // 400 rec/s: 100 warm-up records, then 200 measured, over two partitions.
            let latency = try await run(
                BenchLatencyCommand.self,
                ["--topic", "lat", "--rate", "400", "--duration-s", "0.5", "--warmup-s", "0.25", "--size", "64", "--partitions", "2",
                 "--fetch-wait-ms", "200", "--timeout-s", "60"],
                port: port)
            #expect(latency.status == 0, "\(latency.output.standardError)")
            #expect(latency.output.standardOutput.hasPrefix("latency lat: rate=400/s 0.50s size=64 acks=1 comp=none part=2: e2e p50="))
            #expect(latency.json["records"] as? Int == 200)
            #expect(latency.json["warmup_records"] as? Int == 100)
            #expect(latency.json["rate"] as? Int == 400)
            #expect(latency.json["lost"] as? Int == 0 && latency.json["dups"] as? Int == 0 && latency.json["foreign"] as? Int == 0)
            #expect(latency.json["ok"] as? Bool == true)
            #expect((latency.json["rate_achieved"] as? Double ?? 0) > 0)
            for prefix in ["e2e", "ack"] {
                let figures = try ["p50", "p99", "p999", "max"].map { try #require(latency.json["\(prefix)_\($0)_us"] as? Double) }
                #expect(figures[0] > 0 && figures == figures.sorted(), "\(prefix): \(figures)")
                #expect((latency.json["\(prefix)_mean_us"] as? Double ?? 0) > 0)
            }
            #expect(try await endOffsets(client, topic: "lat").values.reduce(0, +) == 300)

            // A second run on the same topic starts at its end: the first run's records are not read.
            let again = try await run(
                BenchLatencyCommand.self,
                ["--topic", "lat", "--rate", "200", "--duration-s", "0.25", "--warmup-s", "0", "--fetch-wait-ms", "200"], port: port)
            #expect(again.status == 0, "\(again.output.standardError)")
            #expect(again.json["records"] as? Int == 50 && again.json["foreign"] as? Int == 0)
        }
    }

    // MARK: pieces

    @Test func percentilesAreNearestRank() throws {
        // 1...1000 µs, shuffled: rank ⌈q·n⌉.
        var generator = SystemRandomNumberGenerator()
        let samples = (1...1_000).map { Int64($0) * 1_000 }.shuffled(using: &generator)
        let figures = try #require(LatencyPercentiles(nanoseconds: samples))
        #expect([figures.p50Us, figures.p99Us, figures.p999Us, figures.maxUs, figures.meanUs] == [500, 990, 999, 1_000, 500.5])
        // Ranks round up: of 10 samples p50 is the 5th, p99 and p99.9 the 10th.
        let ten = try #require(LatencyPercentiles(nanoseconds: (1...10).map { Int64($0) * 1_000 }))
        #expect(ten.p50Us == 5 && ten.p99Us == 10 && ten.p999Us == 10)
        let one = try #require(LatencyPercentiles(nanoseconds: [7_000]))
        #expect([one.p50Us, one.p99Us, one.p999Us, one.maxUs, one.meanUs] == [7, 7, 7, 7, 7])
        #expect(LatencyPercentiles(nanoseconds: [Int64]()) == nil)
    }

    @Test func payloadIsKbenchsPool() {
        // The first 48 bytes and the slice offsets of kbench.c's make_pool/payload_at, from a C
        // program with kbench's code: the same scenario sends the same bytes from both tools.
        let text = BenchPayload(kind: .text, valueSizeBytes: 48)
        #expect(text.value(at: 0).readableBytesView.map { String(format: "%02x", $0) }.joined()
            == "72776667702061726c70206476727420626b776377647661206665706c74616a206f76622065747161686d6362672064")
        let random = BenchPayload(kind: .random, valueSizeBytes: 16)
        #expect(random.value(at: 0).readableBytesView.map { String(format: "%02x", $0) }.joined() == "ad4df30bae771bdc76606e02b9eef064")
        let hundred = BenchPayload(kind: .text, valueSizeBytes: 100)
        #expect(hundred.valueOffset(at: 1) == 3_667_233 && hundred.valueOffset(at: 2) == 7_334_466)
        let values = (0..<100).map { hundred.value(at: $0) }
        #expect(values.allSatisfy { $0.readableBytes == 100 })
        #expect(Set(values).count == 100)
    }

    @Test func latencyStampRoundTripsAndRejectsOtherValues() {
        let stamp = LatencyStamp(nonce: 0xDEAD_BEEF, sequence: 42, sendNanoseconds: 1_234_567_890_123)
        var value = ByteBuffer(repeating: 0x61, count: 40)
        value.moveReaderIndex(forwardBy: 4)
        stamp.write(into: &value)
        #expect(LatencyStamp(reading: value) == stamp)
        #expect(value.readableBytes == 36 && value.getInteger(at: 28, as: UInt8.self) == 0x61)
        #expect(LatencyStamp(reading: ByteBuffer(repeating: 0, count: 24)) == nil)
        #expect(LatencyStamp(reading: value.getSlice(at: value.readerIndex, length: 23)!) == nil)
    }

    @Test func jsonLineEscapesAndKeepsOrder() throws {
        var json = BenchJSONLine()
        json.string("topic", "a\"b\\c\nd\u{1}")
        json.integer("records", 3)
        json.number("rate", 2.0 / 3.0)
        json.number("infinite", .infinity)
        json.bool("ok", true)
        #expect(json.line == "JSON {\"topic\":\"a\\\"b\\\\c\\nd\\u0001\",\"records\":3,\"rate\":0.667,\"infinite\":null,\"ok\":true}\n")
        let parsed = try jsonLine(in: json.line)
        #expect(parsed["topic"] as? String == "a\"b\\c\nd\u{1}")
    }

    @Test func optionsAreValidated() throws {
        #expect(throws: (any Error).self) { try BenchProduceCommand.parse(["--topic", "t", "--records", "0"]) }
        #expect(throws: (any Error).self) { try BenchProduceCommand.parse(["--topic", "t", "--in-flight", "0"]) }
        #expect(throws: (any Error).self) { try BenchProduceCommand.parse(["--topic", "t", "--batch-size", "0"]) }
        #expect(throws: (any Error).self) { try BenchProduceCommand.parse(["--topic", "t", "--size", "-1"]) }
        #expect(throws: (any Error).self) { try BenchProduceCommand.parse(["--records", "5"]) }
        #expect(throws: (any Error).self) { try BenchConsumeCommand.parse(["--topic", "t", "--stall-timeout-ms", "0"]) }
        #expect(throws: (any Error).self) { try BenchLatencyCommand.parse(["--topic", "t", "--size", "23"]) }
        #expect(throws: (any Error).self) { try BenchLatencyCommand.parse(["--topic", "t", "--rate", "0"]) }
        #expect(throws: (any Error).self) { try BenchLatencyCommand.parse(["--topic", "t", "--drain-timeout-ms", "0"]) }
        #expect(throws: (any Error).self) { try BenchLatencyCommand.parse(["--topic", "t", "--duration-s", "0"]) }
        #expect(throws: (any Error).self) { try BenchLatencyCommand.parse(["--topic", "t", "--rate", "1000000", "--duration-s", "20"]) }
        let produce = try BenchProduceCommand.parse(["--topic", "t", "--acks", "-1", "--compression", "zstd"])
        #expect(produce.acks.acks == .all && produce.compression == .zstd && produce.records == 1_000_000 && produce.size == 100)
        #expect(produce.batchSizeBytes == 1 << 20 && produce.inFlight == 5)
        let latency = try BenchLatencyCommand.parse(["--topic", "t", "--rate", "1000", "--duration-s", "10"])
        #expect(latency.warmupRecordCount == 2_000 && latency.measuredRecordCount == 10_000)
    }
}
