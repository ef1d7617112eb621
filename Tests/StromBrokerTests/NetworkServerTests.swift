import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StromBroker
import StromTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real `KafkaServer` on 127.0.0.1, port 0, with NIO clients: what only sockets show (TCP close,
/// sendfile, accept limits, shutdown). Every server is shut down by `withTestServer`.
@Suite(.timeLimit(.minutes(1)))
struct NetworkServerTests {
    @Test(arguments: [UInt64(11), 12])
    func pipelinedRequestsWithRandomDelaysAreAnsweredInOrder(seed: UInt64) async throws {
        let processor = DelayingProcessor(seed: seed, delayMicrosecondsMax: 2_000)
        try await withTestServer(processor: processor) { _, port in
            let count: Int32 = 200
            let client = try await TestClient.connect(port: port)
            try await client.executeThenClose { inbound, outbound in
                // One write: the server sees many frames per read and its in-flight bound (100) binds.
                try await outbound.write(NetworkFixtures.apiVersionsRequests(correlationIds: 0..<count))
                var expected: Int32 = 0
                for try await frame in inbound {
                    let (correlationId, body) = try NetworkFixtures.decodeApiVersionsResponseBody(frame)
                    #expect(correlationId == expected, "seed \(seed)")
                    #expect(body.errorCode == 0)
                    expected += 1
                    if expected == count { break }
                }
                #expect(expected == count)
            }
        }
    }

    /// Kafka closes a connection on bytes that are not a request; other connections are unaffected.
    @Test(arguments: [
        ("HTTP", ByteBuffer(string: "GET / HTTP/1.1\r\nHost: strom\r\n\r\n")),  // size 0x47455420: too large
        ("negative size", ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3])),
        ("unknown API key", NetworkFixtures.rawFrame(apiKey: 0x7A7A, apiVersion: 0x7A7A, correlationId: 1, extraBytes: 8)),
        ("truncated header", ByteBuffer(bytes: [0, 0, 0, 2, 0, 18])),
    ])
    func garbageClosesTheConnectionAndAFreshOneWorks(name: String, garbage: ByteBuffer) async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        try await withTestServer(processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0), logger: logger) { _, port in
            let bad = try await TestClient.connect(port: port)
            try await bad.executeThenClose { inbound, outbound in
                try await outbound.write(garbage)
                #expect(await TestClient.readUntilClosed(inbound).isEmpty, "\(name)")
            }
            #expect(lines.contains("closing connection"), "\(name): \(lines.all)")

            let good = try await TestClient.connect(port: port)
            try await good.executeThenClose { inbound, outbound in
                try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 9))
                var frames = inbound.makeAsyncIterator()
                let frame = try #require(try await frames.next())
                #expect(try NetworkFixtures.decodeApiVersionsResponseBody(frame).correlationId == 9)
            }
        }
    }

    @Test func oversizedFrameClosesTheConnectionWithALogLine() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        try await withTestServer(
            processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0),
            configure: { $0.frameSizeBytesMax = 1_024 }, logger: logger
        ) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.executeThenClose { inbound, outbound in
                var frame = ByteBuffer()
                frame.writeInteger(Int32(1_025), endianness: .big)
                frame.writeRepeatingByte(0, count: 1_025)
                try await outbound.write(frame)
                #expect(await TestClient.readUntilClosed(inbound).isEmpty)
            }
            #expect(lines.contains("frame of 1025 bytes exceeds socket.request.max.bytes (1024)"), "\(lines.all)")
        }
    }

    @Test func idleConnectionIsClosed() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        try await withTestServer(
            processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0),
            configure: { $0.connectionIdleTimeMax = .milliseconds(100) }, logger: logger
        ) { _, port in
            let clock = ContinuousClock()
            let connected = clock.now
            let client = try await TestClient.connect(port: port)
            try await client.executeThenClose { inbound, _ in
                // Nothing is sent, so nothing comes back until the server gives up on the connection.
                #expect(await TestClient.readUntilClosed(inbound).isEmpty)
            }
            #expect(clock.now - connected >= .milliseconds(100), "not closed before connections.max.idle.ms")
            #expect(lines.contains("closing idle connection"))
        }
    }

    @Test func connectionsBeyondConnectionsMaxAreRefused() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        try await withTestServer(
            processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0),
            configure: { $0.connectionsMax = 1 }, logger: logger
        ) { server, port in
            let first = try await TestClient.connect(port: port)
            try await first.executeThenClose { firstInbound, firstOutbound in
                var firstFrames = firstInbound.makeAsyncIterator()
                try await firstOutbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 1))
                _ = try #require(try await firstFrames.next())
                #expect(try await server.connectionCount() == 1)

                let second = try await TestClient.connect(port: port)
                try await second.executeThenClose { inbound, outbound in
                    try? await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 2))
                    #expect(await TestClient.readUntilClosed(inbound).isEmpty)
                }
                #expect(lines.contains("refusing connection: max.connections (1) reached"))

                // The admitted connection is unaffected.
                try await firstOutbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 3))
                let frame = try #require(try await firstFrames.next())
                #expect(try NetworkFixtures.decodeApiVersionsResponseBody(frame).correlationId == 3)
            }
        }
    }

    /// Zero-copy responses: encoded bytes around a byte range of a file sent with sendfile.
    @Test func fileSlicesAreSentBetweenEncodedBytes() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/00000000000000000000.log"
        let fileDescriptor = open(path, O_RDWR | O_CREAT, 0o600)
        try #require(fileDescriptor >= 0)
        defer { close(fileDescriptor) }
        let contents = (0..<4_096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(contents.withUnsafeBytes { write(fileDescriptor, $0.baseAddress, $0.count) } == contents.count)

        struct FetchLike: KafkaRequestProcessor {
            let fileDescriptor: CInt
            let released: ReadCounter.Count
            func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
                // A response frame: header (correlation id) + 2 file ranges + a trailer byte.
                var head = ByteBuffer()
                head.writeInteger(Int32(4 + 1_000 + 24 + 1), endianness: .big)
                head.writeInteger(request.correlationId, endianness: .big)
                let released = self.released
                return .respondWithParts(
                    [
                        .bytes(head),
                        .file(KafkaResponseFileSlice(fileDescriptor: self.fileDescriptor, positionBytes: 100, sizeBytes: 1_000)),
                        .file(KafkaResponseFileSlice(fileDescriptor: self.fileDescriptor, positionBytes: 4_072, sizeBytes: 24)),
                        .bytes(ByteBuffer(bytes: [0xEE])),
                    ],
                    whenWritten: { _ in released.value.add(1, ordering: .relaxed) })
            }
        }
        let released = ReadCounter.Count()
        try await withTestServer(processor: FetchLike(fileDescriptor: fileDescriptor, released: released)) { _, port in
            let client = try await TestClient.connect(port: port)
            try await client.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                for correlationId: Int32 in 1...3 {
                    try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: correlationId))
                    var frame = try #require(try await frames.next())
                    #expect(frame.readInteger(endianness: .big, as: Int32.self) == correlationId)
                    #expect(frame.readBytes(length: 1_000) == Array(contents[100..<1_100]))
                    #expect(frame.readBytes(length: 24) == Array(contents[4_072..<4_096]))
                    #expect(frame.readBytes(length: 1) == [0xEE])
                    #expect(frame.readableBytes == 0)
                }
            }
        }
        #expect(released.value.load(ordering: .relaxed) == 3, "whenWritten ran once per response")
        // The descriptor is still ours and open.
        #expect(fcntl(fileDescriptor, F_GETFD) != -1)
    }

    /// Shutdown stops accepting, lets the request in flight finish and be answered, then closes.
    @Test func gracefulShutdownAnswersInFlightRequestsThenCloses() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        let processor = GatedProcessor()
        var configuration = KafkaServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownDrainTimeMax = .seconds(30)
        let server = KafkaServer(configuration: configuration, processor: processor, logger: logger)
        let port = try #require(try await server.start().port)
        let client = try await TestClient.connect(port: port)
        try await client.executeThenClose { inbound, outbound in
            try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 1))
            await processor.waitForArrivals(1)
            async let shutdown: Void = server.shutdown()
            await lines.waitFor("draining connections")
            processor.release(1)
            let frames = await TestClient.readUntilClosed(inbound)
            #expect(frames.count == 1)
            #expect(try frames.first.map { try NetworkFixtures.decodeApiVersionsResponseBody($0).correlationId } == 1)
            await shutdown
        }
        #expect(processor.cancelled.isEmpty)
        #expect(await server.localAddress == nil)
        await #expect(throws: (any Error).self) { _ = try await TestClient.connect(port: port) }
    }

    /// A connection still busy after shutdownDrainTimeMax is closed and its processing cancelled.
    @Test func shutdownClosesBusyConnectionsAfterTheDrainTime() async throws {
        let processor = GatedProcessor()
        var configuration = KafkaServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownDrainTimeMax = .milliseconds(50)
        let server = KafkaServer(configuration: configuration, processor: processor)
        let port = try #require(try await server.start().port)
        let client = try await TestClient.connect(port: port)
        try await client.executeThenClose { inbound, outbound in
            try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 1))
            await processor.waitForArrivals(1)
            await server.shutdown()
            #expect(await TestClient.readUntilClosed(inbound).isEmpty)
        }
        await processor.waitForCancellations(1)
        #expect(try await server.connectionCount() == 0)
    }

    @Test func serviceGroupGracefulShutdownStopsTheServer() async throws {
        let processor = DelayingProcessor(seed: 1, delayMicrosecondsMax: 0)
        let server = KafkaServer(configuration: KafkaServerConfiguration(host: "127.0.0.1", port: 0), processor: processor)
        // Started explicitly to learn the port; run() then serves until the group shuts down.
        let port = try #require(try await server.start().port)
        let group = ServiceGroup(services: [server], logger: Logger(label: "strom.network.test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let client = try await TestClient.connect(port: port)
            try await client.executeThenClose { inbound, outbound in
                try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 5))
                var frames = inbound.makeAsyncIterator()
                let frame = try #require(try await frames.next())
                #expect(try NetworkFixtures.decodeApiVersionsResponseBody(frame).correlationId == 5)
                await group.triggerGracefulShutdown()
                #expect(try await frames.next() == nil, "the idle connection is closed by the drain")
            }
            try await tasks.waitForAll()
        }
        #expect(await server.localAddress == nil)
    }

    @Test func cancellingRunClosesConnectionsAtOnce() async throws {
        let processor = GatedProcessor()
        let server = KafkaServer(configuration: KafkaServerConfiguration(host: "127.0.0.1", port: 0), processor: processor)
        let port = try #require(try await server.start().port)
        let run = Task { try await server.run() }
        let client = try await TestClient.connect(port: port)
        try await client.executeThenClose { inbound, outbound in
            try await outbound.write(NetworkFixtures.apiVersionsRequest(correlationId: 1))
            await processor.waitForArrivals(1)
            run.cancel()
            #expect(await TestClient.readUntilClosed(inbound).isEmpty)
        }
        try await run.value
        await processor.waitForCancellations(1)
        #expect(await server.localAddress == nil)
    }

    @Test func startValidatesTheConfigurationAndRefusesASecondStart() async throws {
        var bad = KafkaServerConfiguration(host: "127.0.0.1", port: 0)
        bad.inFlightRequestsMax = 0
        let refused = KafkaServer(configuration: bad, processor: GatedProcessor())
        await #expect(throws: KafkaServerError.self) { try await refused.start() }
        await refused.shutdown()

        try await withTestServer(processor: GatedProcessor()) { server, _ in
            await #expect(throws: KafkaServerError.alreadyStarted) { try await server.start() }
        }
    }
}
