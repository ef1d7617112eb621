import KafkaProtocol
import StromClient
import Testing

/// The connection's mechanics against a scripted broker that answers when the test says so.
@Suite struct KafkaClientConnectionTests {
    func metadata(_ connection: KafkaClientConnection, topic: String, timeout: Duration? = nil) async throws -> String? {
        try await connection.send(MetadataRequest(topics: [.init(name: topic)]), timeout: timeout).topics.first?.name
    }

    @Test func negotiatesApiVersionsDownToWhatAnOlderBrokerKnows() async throws {
        let processor = ScriptedProcessor(apiVersionsMax: 2)
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            #expect(processor.apiVersionsSeen == [ApiVersionsRequest.validVersions.upperBound, 2])
            #expect(connection.apiVersions.ranges == [.metadata: 0...12, .apiVersions: 0...2])
            #expect(try connection.apiVersions.version(for: MetadataRequest.self) == 12)
            await connection.close()
        }
    }

    @Test func pipelinedCallsGetTheirOwnAnswers() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            try await withThrowingTaskGroup(of: (String, String?).self) { group in
                let names = (0..<8).map { "topic-\($0)" }
                for name in names {
                    group.addTask { (name, try await metadata(connection, topic: name)) }
                }
                // The broker processes one request of a connection at a time, so only the first has
                // arrived; releasing in reverse still answers each call with its own response.
                await processor.waitForArrivals(1)
                for name in names.reversed() { processor.release(name) }
                var answered = 0
                for try await (asked, answer) in group {
                    #expect(answer == asked)
                    answered += 1
                }
                #expect(answered == names.count)
            }
            await connection.close()
        }
    }

    @Test func aCallTimesOutAndTheConnectionStaysUsable() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            await #expect {
                try await metadata(connection, topic: "slow", timeout: .milliseconds(100))
            } throws: { error in
                guard case StromClientError.timedOut(.metadata, _, 100) = error else { return false }
                return true
            }
            // The late answer arrives first (the broker answers in order) and is dropped.
            processor.release("slow")
            processor.release("next")
            #expect(try await metadata(connection, topic: "next") == "next")
            await connection.close()
        }
    }

    @Test func closingFailsTheCallsInFlightAndLaterCalls() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            let pending = Task { try await metadata(connection, topic: "parked") }
            await processor.waitForArrivals(1)
            await connection.close()
            await #expect(throws: StromClientError.connectionClosed(host: "127.0.0.1", port: port, reason: "closed by the client")) {
                try await pending.value
            }
            #expect(!connection.isOpen)
            await #expect {
                try await metadata(connection, topic: "after")
            } throws: { error in
                guard case StromClientError.connectionClosed = error else { return false }
                return true
            }
        }
    }

    @Test func theBrokerClosingFailsTheCallsInFlight() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { server, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            let pending = Task { try await metadata(connection, topic: "parked") }
            await processor.waitForArrivals(1)
            server.closeAllConnections(reason: "test")
            await #expect(throws: StromClientError.connectionClosed(host: "127.0.0.1", port: port, reason: "closed by the broker")) {
                try await pending.value
            }
        }
    }

    @Test func cancellingTheCallerFailsOnlyItsCall() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            let pending = Task { try await metadata(connection, topic: "parked") }
            await processor.waitForArrivals(1)
            pending.cancel()
            await #expect(throws: StromClientError.cancelled) { try await pending.value }
            processor.release("parked")
            processor.release("next")
            #expect(try await metadata(connection, topic: "next") == "next")
            await connection.close()
        }
    }

    @Test func anUnservedApiIsRefusedBeforeAnythingIsSent() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            await #expect(throws: StromClientError.unsupportedApi(.deleteTopics, brokerVersions: nil, clientVersions: 0...6)) {
                try await connection.send(DeleteTopicsRequest(topicNames: ["t"]))
            }
            // The scripted broker closes the connection on anything it does not serve: it is still open.
            #expect(connection.isOpen)
            await connection.close()
        }
    }

    @Test func callerMistakesAreRefusedLocally() async throws {
        let processor = ScriptedProcessor()
        try await withScriptedServer(processor) { _, port in
            let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: port)
            await #expect(throws: StromClientError.unsupportedApi(.metadata, brokerVersions: 0...12, clientVersions: 0...12)) {
                try await connection.send(MetadataRequest(), version: 13)
            }
            await #expect {
                try await connection.send(ProduceRequest(acks: 0, timeoutMs: 1_000, topicData: []), version: 9)
            } throws: { error in
                guard case StromClientError.invalidArgument = error else { return false }
                return true
            }
            #expect(connection.isOpen)
            await connection.close()
        }
    }

    @Test func connectingToNothingFailsClearly() async throws {
        // Port 1 (tcpmux) is privileged and unused on test machines: the connect is refused.
        await #expect {
            try await KafkaClientConnection.connect(host: "127.0.0.1", port: 1, connectTimeout: .seconds(5))
        } throws: { error in
            guard case StromClientError.connectionFailed(host: "127.0.0.1", port: 1, let reason) = error else { return false }
            return reason.contains("refused")
        }
    }
}
