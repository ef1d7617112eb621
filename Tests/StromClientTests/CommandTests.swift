import KafkaProtocol
import NIOCore
import StromClient
import Testing

@testable import StromCLI

/// The CLI's commands, parsed from arguments as the shell would pass them and run against an
/// in-process broker, with their output captured.
@Suite struct CommandTests {
    /// Parses `arguments` (after `strom`) into the command `Command`, runs it the way `strom`
    /// does (connect to `--bootstrap`, execute, report errors) and returns its exit code and output.
    func run<Command: ClientCommand>(_ command: Command.Type, _ arguments: [String], port: Int) async throws -> (status: Int32, output: CapturedOutput) {
        let parsed = try Command.parse(arguments + ["--bootstrap", "127.0.0.1:\(port)"])
        let output = CapturedOutput()
        let status = await parsed.runReportingErrors(output: output)
        return (status.rawValue, output)
    }

    /// Standard input as the chunks a pipe would deliver.
    func input(_ chunks: [String]) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            for chunk in chunks { continuation.yield(ByteBuffer(string: chunk)) }
            continuation.finish()
        }
    }

    func produce(_ arguments: [String], lines chunks: [String], client: KafkaClient) async throws -> CapturedOutput {
        let output = CapturedOutput()
        try await ProduceCommand.parse(arguments).produce(client: client, input: input(chunks), output: output)
        return output
    }

    func consume(_ arguments: [String], client: KafkaClient) async throws -> CapturedOutput {
        let output = CapturedOutput()
        try await ConsumeCommand.parse(arguments).execute(client: client, output: output)
        return output
    }

    @Test func topicCreateListDescribeDelete() async throws {
        try await withBroker { port in
            let create = try await run(TopicCreateCommand.self, ["orders", "--partitions", "2", "--config", "retention.ms=60000"], port: port)
            #expect(create.status == 0 && create.output.standardOutput == "Created topic orders with 2 partitions.\n")
            _ = try await run(TopicCreateCommand.self, ["audit"], port: port)

            let list = try await run(TopicListCommand.self, [], port: port)
            #expect(list.output.standardOutput == "audit\norders\n")

            let describe = try await run(TopicDescribeCommand.self, ["orders"], port: port)
            #expect(describe.status == 0)
            let lines = describe.output.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 4)
            #expect(lines[0].hasPrefix("Topic: orders\tTopicId: ") && lines[0].contains("\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: "))
            #expect(lines[1] == "\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0")
            #expect(lines[2] == "\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0")

            let delete = try await run(TopicDeleteCommand.self, ["audit"], port: port)
            #expect(delete.status == 0 && delete.output.standardOutput == "Deleted topic audit.\n")
            #expect(try await run(TopicListCommand.self, [], port: port).output.standardOutput == "orders\n")
        }
    }

    @Test func clusterStatusShowsBrokersControllerAndPartitionHealth() async throws {
        try await withBroker { port in
            _ = try await run(TopicCreateCommand.self, ["orders", "--partitions", "3"], port: port)
            let status = try await run(ClusterStatusCommand.self, [], port: port)
            #expect(status.status == 0)
            let lines = status.output.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines[0].hasPrefix("Cluster: ") && lines[0].hasSuffix("\tController: 0"))
            #expect(lines[1] == "Brokers: 1 alive")
            #expect(lines[2].hasPrefix("BROKER") && lines[3].hasPrefix("0 (controller)") && lines[3].contains("127.0.0.1:\(port)"))
            #expect(lines[3].split(separator: " ").suffix(2) == ["3", "3"], "three leaderships and three replicas on the one broker: \(lines[3])")
            #expect(lines[4] == "Partitions: 3, under-replicated: 0, offline: 0")
        }
    }

    @Test func describeShowsTheTopicsOwnConfigs() async throws {
        try await withBroker { port in
            _ = try await run(TopicCreateCommand.self, ["orders", "--config", "retention.ms=60000"], port: port)
            let describe = try await run(TopicDescribeCommand.self, ["orders"], port: port)
            #expect(describe.status == 0)
            #expect(describe.output.standardOutput.contains("\tConfigs: retention.ms=60000\n"))
            #expect(describe.output.standardError.isEmpty)
        }
    }

    @Test func alterConfigSetsAndDeletes() async throws {
        try await withBroker { port in
            _ = try await run(TopicCreateCommand.self, ["orders", "--config", "cleanup.policy=compact"], port: port)
            let alter = try await run(TopicAlterConfigCommand.self, ["orders", "--set", "retention.ms=5000", "--delete", "cleanup.policy"], port: port)
            #expect(alter.status == 0 && alter.output.standardOutput == "Updated the configs of topic orders.\n")
            let client = try await KafkaClient.connect(host: "127.0.0.1", port: port)
            let configs = try await client.describeConfigs(.topic("orders")).filter { $0.source == .topicConfig }
            await client.close()
            #expect(configs.map(\.name) == ["retention.ms"] && configs.first?.value == "5000")
        }
    }

    @Test func groupDescribeShowsLagAndResetOffsetsIsADryRunUnlessExecuted() async throws {
        try await withBrokerAndClient { client, port in
            _ = try await run(TopicCreateCommand.self, ["orders", "--partitions", "2"], port: port)
            _ = try await produce(["orders", "--partition", "0"], lines: [(0..<10).map { "r\($0)\n" }.joined()], client: client)
            _ = try await produce(["orders", "--partition", "1"], lines: ["only\n"], client: client)
            // A group that only stores offsets (as assign() and commit, or an admin tool, makes one).
            try await client.commitOffsets(group: "billing", topic: "orders", offsets: [0: 4])

            let list = try await run(GroupListCommand.self, [], port: port)
            #expect(list.output.standardOutput == "GROUP    TYPE     STATE\nbilling  classic  Empty\n")

            let describe = try await run(GroupDescribeCommand.self, ["billing"], port: port)
            #expect(describe.status == 0)
            #expect(describe.output.standardOutput.hasPrefix("\nGroup 'billing' (classic, Empty) has no active members.\n\n"))
            let rows = describe.output.standardOutput.split(separator: "\n").dropFirst(1).map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(rows.first == [
                "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID", "TIME-LAG", "STATUS",
            ])
            // The coordinator's time lag and status come from its admin listener; this broker has none.
            #expect(rows.dropFirst().first == ["billing", "orders", "0", "4", "10", "6", "-", "-", "-", "-", "-"])
            #expect(describe.output.standardError.contains("no time lag or status for group billing: the coordinator has no admin listener"))

            // As in Kafka, a shift needs a committed offset to start from.
            let noBase = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--shift-by", "-3"], port: port)
            #expect(noBase.status == 1 && noBase.output.standardError.contains("partition 1 has no committed offset"))
            let dryRun = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--partitions", "0", "--shift-by", "-3"], port: port)
            #expect(dryRun.status == 0 && dryRun.output.standardOutput.contains("billing  orders  0          1\n"))
            #expect(dryRun.output.standardError.contains("dry run"))
            #expect(try await client.committedOffsets(group: "billing") == ["orders": [0: 4]], "a dry run changes nothing")

            let executed = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--to-latest", "--execute"], port: port)
            #expect(executed.status == 0)
            #expect(try await client.committedOffsets(group: "billing") == ["orders": [0: 10, 1: 1]])
            let earliest = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--partitions", "1", "--to-earliest", "--execute"], port: port)
            #expect(earliest.status == 0)
            #expect(try await client.committedOffsets(group: "billing") == ["orders": [0: 10, 1: 0]])
            // By time: before every record is the earliest offset, after every record the latest.
            let beforeAll = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--to-datetime", "1971-01-01T00:00:00Z", "--execute"], port: port)
            #expect(beforeAll.status == 0)
            #expect(try await client.committedOffsets(group: "billing") == ["orders": [0: 0, 1: 0]])
            let afterAll = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--to-datetime", "2999-01-01T00:00:00Z", "--execute"], port: port)
            #expect(afterAll.status == 0)
            #expect(try await client.committedOffsets(group: "billing") == ["orders": [0: 10, 1: 1]])
            let badTime = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--to-datetime", "yesterday"], port: port)
            #expect(badTime.status == 1 && badTime.output.standardError.contains("ISO 8601"))
            let twoTargets = try await run(GroupResetOffsetsCommand.self, ["billing", "--topic", "orders", "--to-earliest", "--to-latest"], port: port)
            #expect(twoTargets.status == 1 && twoTargets.output.standardError.contains("exactly one of"))

            let delete = try await run(GroupDeleteCommand.self, ["billing", "nobody"], port: port)
            #expect(delete.status == 1 && delete.output.standardOutput == "Deleted group billing.\n")
            #expect(delete.output.standardError.contains("nobody: GROUP_ID_NOT_FOUND"))
            #expect(try await client.committedOffsets(group: "billing").isEmpty)
        }
    }

    @Test func errorsAreOneLineWithTheKafkaName() async throws {
        try await withBroker { port in
            _ = try await run(TopicCreateCommand.self, ["orders"], port: port)
            let duplicate = try await run(TopicCreateCommand.self, ["orders"], port: port)
            #expect(duplicate.status == 1 && duplicate.output.standardOutput.isEmpty)
            #expect(duplicate.output.standardError == "strom: TOPIC_ALREADY_EXISTS (36): topic \"orders\": Topic 'orders' already exists.\n")

            let missing = try await run(TopicDescribeCommand.self, ["missing"], port: port)
            #expect(missing.status == 1)
            #expect(missing.output.standardError.hasPrefix("strom: UNKNOWN_TOPIC_OR_PARTITION (3): topic \"missing\""))
            #expect(missing.output.standardError.filter { $0 == "\n" }.count == 1)

            let badPartition = try await run(ConsumeCommand.self, ["orders", "--partition", "7", "--timeout-ms", "0"], port: port)
            #expect(badPartition.status == 1)
            #expect(badPartition.output.standardError.hasPrefix("strom: UNKNOWN_TOPIC_OR_PARTITION (3): topic \"orders\" partition 7"))
        }
        let unreachable = try await run(TopicListCommand.self, [], port: 1)
        #expect(unreachable.status == 1 && unreachable.output.standardError.hasPrefix("strom: cannot connect to 127.0.0.1:1: "))
    }

    @Test func producedLinesAreConsumedBackInTheGivenFormat() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "lines", partitionCount: 1))
            // Lines split across chunks, a two-byte separator, a line without one, a value holding
            // it again, an empty line, and a last line without a newline.
            let produced = try await produce(
                ["lines", "--key-separator", "::", "--compression", "lz4"],
                lines: ["k1::v1\nk2:", ":v2\nno separator\nk3::a::b\n\nk4::", "last"], client: client)
            #expect(produced.standardOutput == "wrote 6 records to topic lines\n")

            let consumed = try await consume(["lines", "--from-beginning", "--max-messages", "6", "--format", "%p/%o %k=%v"], client: client)
            #expect(consumed.standardOutput == """
                0/0 k1=v1
                0/1 k2=v2
                0/2 null=no separator
                0/3 k3=a::b
                0/4 null=
                0/5 k4=last

                """)
            #expect(consumed.standardError == "Processed a total of 6 messages\n")
        }
    }

    @Test func consumeStartsAtAnOffsetATimestampOrTheEnd() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "log", partitionCount: 1))
            let records = (0..<5).map { ProducerRecord(value: ByteBuffer(string: "r\($0)"), partition: 0, timestampMs: 1_000 * Int64($0 + 1)) }
            _ = try await client.produce(topic: "log", records: records)

            let fromOffset = try await consume(["log", "--partition", "0", "--offset", "3", "--max-messages", "2", "--format", "%o %v %t"], client: client)
            #expect(fromOffset.standardOutput == "3 r3 4000\n4 r4 5000\n")

            let fromTime = try await consume(["log", "--timestamp", "2500", "--max-messages", "3", "--format", "%v"], client: client)
            #expect(fromTime.standardOutput == "r2\nr3\nr4\n")

            // From the end with nothing new: stops after the timeout with nothing printed.
            let fromEnd = try await consume(["log", "--timeout-ms", "300"], client: client)
            #expect(fromEnd.standardOutput.isEmpty && fromEnd.standardError == "Processed a total of 0 messages\n")

            // A timestamp after every record starts at the end too.
            let afterAll = try await consume(["log", "--timestamp", "99000", "--timeout-ms", "200"], client: client)
            #expect(afterAll.standardOutput.isEmpty)
        }
    }

    @Test func consumeReadsEveryPartitionAndPrintsHeaders() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "spread", partitionCount: 3))
            let records = (0..<3).map { index in
                ProducerRecord(
                    key: ByteBuffer(string: "k\(index)"), value: ByteBuffer(string: "v\(index)"),
                    headers: [.init(key: "a", value: ByteBuffer(string: "1")), .init(key: "b", value: nil)], partition: Int32(index))
            }
            _ = try await client.produce(topic: "spread", records: records)
            let consumed = try await consume(["spread", "--from-beginning", "--timeout-ms", "1000", "--format", "%T %p %k %h"], client: client)
            let lines = consumed.standardOutput.split(separator: "\n").sorted()
            #expect(lines == ["spread 0 k0 a=1,b", "spread 1 k1 a=1,b", "spread 2 k2 a=1,b"])
        }
    }

    @Test(arguments: ["-1", "1", "0"])
    func produceHonoursAcks(acks: String) async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "acked", partitionCount: 1))
            let produced = try await produce(["acked", "--acks", acks, "--partition", "0"], lines: ["a\nb\n"], client: client)
            #expect(produced.standardOutput == "wrote 2 records to topic acked\n")
            #expect(try await fetchRecords(client, topic: "acked", count: 2).map { $0.value.text } == ["a", "b"])
        }
    }

    @Test func produceSendsLargeInputInBoundedRequests() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "bulk", partitionCount: 1))
            let lineCount = ProduceCommand.lineCountMax * 2 + 500
            let text = (0..<lineCount).map { "line \($0)\n" }.joined()
            let produced = try await produce(["bulk"], lines: [text], client: client)
            #expect(produced.standardOutput == "wrote \(lineCount) records to topic bulk\n")
            let fetched = try await client.fetch(topic: "bulk", offsets: [0: 0], maxWaitMs: 0)
            #expect(try fetched[0].result.get().highWatermark == Int64(lineCount))
        }
    }
}

/// The commands' argument handling and the pieces they are built from, without a broker.
@Suite struct CommandParsingTests {
    @Test func acksAndCompressionParse() throws {
        #expect(try ProduceCommand.parse(["t", "--acks", "-1"]).acks.acks == .all)
        #expect(try ProduceCommand.parse(["t", "--acks", "all"]).acks.acks == .all)
        #expect(try ProduceCommand.parse(["t", "--acks", "0"]).acks.acks == .unacknowledged)
        #expect(try ProduceCommand.parse(["t", "--acks=1"]).acks.acks == .leader)
        #expect(try ProduceCommand.parse(["t"]).acks.acks == .all)
        #expect(try ProduceCommand.parse(["t", "--compression", "zstd"]).compression.codec == .zstd)
        #expect(throws: (any Error).self) { try ProduceCommand.parse(["t", "--acks", "2"]) }
        #expect(throws: (any Error).self) { try ProduceCommand.parse(["t", "--compression", "brotli"]) }
        #expect(throws: (any Error).self) { try ProduceCommand.parse(["t", "--key-separator", ""]) }
    }

    @Test func consumeRefusesContradictoryStarts() {
        #expect(throws: (any Error).self) { try ConsumeCommand.parse(["t", "--from-beginning", "--timestamp", "5"]) }
        #expect(throws: (any Error).self) { try ConsumeCommand.parse(["t", "--offset", "5"]) }
        #expect(throws: (any Error).self) { try ConsumeCommand.parse(["t", "--max-messages", "0"]) }
        #expect(throws: (any Error).self) { try ConsumeCommand.parse(["t", "--format", "%x"]) }
        #expect(throws: Never.self) { try ConsumeCommand.parse(["t", "--partition", "1", "--offset", "5"]) }
    }

    @Test func topicCommandsParse() throws {
        let create = try TopicCreateCommand.parse(["t", "--partitions", "3", "--replication-factor", "1", "--config", "a=b=c", "--config", "x=1"])
        #expect(create.partitions == 3 && create.replicationFactor == 1)
        #expect(create.config.byName == ["a": "b=c", "x": "1"])
        #expect(throws: (any Error).self) { try TopicCreateCommand.parse(["t", "--config", "novalue"]) }
        #expect(throws: (any Error).self) { try TopicCreateCommand.parse(["t", "--partitions", "0"]) }

        let alter = try TopicAlterConfigCommand.parse(["t", "--set", "retention.ms=1", "--delete", "cleanup.policy"])
        #expect(alter.alterations == [.set(name: "retention.ms", value: "1"), .delete(name: "cleanup.policy")])
        #expect(throws: (any Error).self) { try TopicAlterConfigCommand.parse(["t"]) }
        #expect(throws: (any Error).self) { try TopicAlterConfigCommand.parse(["t", "--set", "a=1", "--delete", "a"]) }
    }

    @Test func bootstrapComesFromTheFlagTheEnvironmentOrTheDefault() throws {
        func parsed(_ arguments: [String], environment: [String: String] = [:]) throws -> [String] {
            try BootstrapOptions.parse(arguments).addresses(environment: environment).map { "\($0.host) \($0.port)" }
        }
        #expect(try parsed(["--bootstrap", "broker:19092"]) == ["broker 19092"])
        #expect(try parsed(["--bootstrap", "[::1]:9093"]) == ["::1 9093"])
        #expect(try parsed(["--bootstrap", "a:1, b:2"]) == ["a 1", "b 2"], "a list, tried in turn")
        #expect(try parsed([], environment: ["STROM_BOOTSTRAP": "env:1234"]) == ["env 1234"])
        #expect(try parsed([]) == ["127.0.0.1 9092"])
        #expect(throws: (any Error).self) { try parsed(["--bootstrap", "nohost"]) }
        #expect(throws: (any Error).self) { try parsed(["--bootstrap", "h:0"]) }
    }

    @Test func recordFormatRendersEveryDirective() throws {
        let format = try RecordFormat(parsing: "%T|%p|%o|%t|%k|%v|%h|100%%\\t\\n\\\\")
        let record = ConsumerRecord(
            topic: "t", partition: 2, offset: 41, timestampMs: 1_700, timestampType: .createTime, key: nil, value: ByteBuffer(string: "v"),
            headers: [.init(key: "a", value: ByteBuffer(string: "1")), .init(key: "b", value: nil)])
        var output = ByteBuffer()
        format.write(record, into: &output)
        #expect(output.text == "t|2|41|1700|null|v|a=1,b|100%\t\n\\\n")
        #expect(throws: (any Error).self) { try RecordFormat(parsing: "%") }
    }

    @Test func lineSplitterCutsAcrossChunks() {
        var splitter = LineSplitter()
        var lines: [String] = []
        for chunk in ["ab", "c\nd", "e\n\nf"] {
            splitter.append(ByteBuffer(string: chunk))
            while let line = splitter.nextLine() { lines.append(line.text) }
        }
        #expect(lines == ["abc", "de", ""])
        #expect(splitter.finish()?.text == "f")
        #expect(splitter.finish() == nil)
    }

    @Test func separatorSearchFindsTheFirstWholeMatch() {
        // Readable bytes ":a:;b::c" (after "xx"): single colons first, then "::" at readable index 5.
        var line = ByteBuffer(string: "xx:a:;b::c")
        line.moveReaderIndex(forwardBy: 2)
        let index = ProduceCommand.firstIndex(of: Array("::".utf8), in: line)
        #expect(index == line.readerIndex + 5)
        #expect(ProduceCommand.firstIndex(of: Array("::".utf8), in: ByteBuffer(string: "a:")) == nil)
    }
}
