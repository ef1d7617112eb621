import KafkaProtocol
import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
import StromBroker
import StromTestSupport
import Testing

/// The frame handler under every chunking, and the request handler in a `NIOAsyncTestingChannel`
/// (manual clock, no sockets): ordering, back-pressure, closing rules, idle timeout, draining.
@Suite(.timeLimit(.minutes(1)))
struct NetworkTests {
    // MARK: - Frame handler

    static func sizePrefixed(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(bytes.count), endianness: .big)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// Feeds `input` to a fresh frame handler in the reads `cuts` makes and returns the frames.
    static func frames(of input: ByteBuffer, cutAt cuts: [Int], limit: Int) throws -> [ByteBuffer] {
        let channel = EmbeddedChannel(handler: KafkaFrameHandler(frameSizeBytesMax: limit))
        var start = 0
        for end in (cuts + [input.readableBytes]).sorted() where end > start {
            try channel.writeInbound(input.getSlice(at: input.readerIndex + start, length: end - start)!)
            start = end
        }
        var frames: [ByteBuffer] = []
        while let frame = try channel.readInbound(as: ByteBuffer.self) { frames.append(frame) }
        _ = try channel.finish()
        return frames
    }

    @Test func frameHandlerUnderEveryChunking() throws {
        let limit = 16
        var stream = ByteBuffer()
        var expected: [ByteBuffer] = []
        for length in [0, 3, limit, 0, 1, 7, limit, 2] {
            var frame = Self.sizePrefixed(Array(repeating: UInt8(length), count: length))
            expected.append(frame.getSlice(at: 4, length: length)!)
            stream.writeBuffer(&frame)
        }
        // Whole, a byte at a time, and every single cut; then seeded random cuts.
        #expect(try Self.frames(of: stream, cutAt: [], limit: limit) == expected)
        #expect(try Self.frames(of: stream, cutAt: Array(1..<stream.readableBytes), limit: limit) == expected)
        for cut in 1..<stream.readableBytes {
            #expect(try Self.frames(of: stream, cutAt: [cut], limit: limit) == expected, "cut at \(cut)")
        }
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let cuts = (0..<Int(random.next() % 6)).map { _ in 1 + Int(random.next() % UInt64(stream.readableBytes - 1)) }
            #expect(try Self.frames(of: stream, cutAt: cuts, limit: limit) == expected, "cuts \(cuts)")
        }
    }

    @Test func frameHandlerPassesRealRequestFrames() throws {
        let frames = try (0..<3).map { try NetworkFixtures.apiVersionsRequest(correlationId: Int32($0)) }
        var all = ByteBuffer()
        for var frame in frames { all.writeBuffer(&frame) }
        let expected = frames.map { $0.getSlice(at: 4, length: $0.readableBytes - 4)! }
        #expect(try Self.frames(of: all, cutAt: [], limit: 1 << 20) == expected)
        #expect(try Self.frames(of: all, cutAt: [5, 30, 31], limit: 1 << 20) == expected)
    }

    /// A frame inside one read is a view of that read's bytes; one split over reads is assembled
    /// once, in one buffer of its size (NIO rounds allocations up to a power of two).
    @Test func frameSplitterCopiesOnlySplitFrames() throws {
        var splitter = KafkaFrameSplitter(frameSizeBytesMax: 1 << 20)
        var read = Self.sizePrefixed(Array(repeating: 7, count: 100))
        var second = Self.sizePrefixed(Array(repeating: 8, count: 1_000))
        read.writeBuffer(&second)
        let whole = read
        var input = read.getSlice(at: 0, length: 104 + 500)!
        var frames: [ByteBuffer] = []
        try splitter.split(&input) { frames.append($0) }
        #expect(frames.count == 1)
        #expect(splitter.bufferedBytes == 500)
        let readStart = whole.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frameStart = frames[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(frameStart == readStart + 4)
        var rest = whole.getSlice(at: 604, length: 504)!
        try splitter.split(&rest) { frames.append($0) }
        #expect(frames.count == 2)
        #expect(frames[1] == ByteBuffer(bytes: Array(repeating: 8, count: 1_000)))
        #expect(frames[1].capacity >= 1_004 && frames[1].capacity < 2 * 1_004)
        #expect(splitter.bufferedBytes == 0)
    }

    /// The size is checked as soon as its 4 bytes are in: nothing of the frame is buffered first.
    @Test(arguments: [
        (Int32(17), KafkaFrameError.frameTooLarge(sizeBytes: 17, limitBytes: 16)),
        (Int32.max, KafkaFrameError.frameTooLarge(sizeBytes: Int(Int32.max), limitBytes: 16)),
        (Int32(-1), KafkaFrameError.negativeSize(sizeBytes: -1)),
        (Int32.min, KafkaFrameError.negativeSize(sizeBytes: Int32.min)),
    ])
    func frameHandlerRejectsSizeBeforeBuffering(size: Int32, expected: KafkaFrameError) throws {
        let channel = EmbeddedChannel(handler: KafkaFrameHandler(frameSizeBytesMax: 16))
        var prefix = ByteBuffer()
        prefix.writeInteger(size, endianness: .big)
        prefix.writeBytes([1, 2, 3])
        // Three bytes are not a size yet.
        try channel.writeInbound(prefix.getSlice(at: 0, length: 3)!)
        #expect(throws: expected) { try channel.writeInbound(prefix.getSlice(at: 3, length: 4)!) }
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        // Nothing after a bad prefix is a frame.
        try channel.writeInbound(Self.sizePrefixed([1]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }

    // MARK: - Request handler

    /// A connection pipeline (`addKafkaConnectionHandlers`) on a testing channel, with a read counter
    /// at the head.
    struct Harness {
        let channel: NIOAsyncTestingChannel
        let reads = ReadCounter.Count()

        init(
            processor: any KafkaRequestProcessor, inFlightRequestsMax: Int = 100,
            connectionIdleTimeMax: TimeAmount = .seconds(600), logger: Logger = Logger(label: "strom.network.test")
        ) async throws {
            let channel = NIOAsyncTestingChannel()
            let reads = self.reads
            let configuration = KafkaServerConfiguration(
                inFlightRequestsMax: inFlightRequestsMax, connectionIdleTimeMax: connectionIdleTimeMax)
            try await channel.testingEventLoop.executeInContext {
                try channel.pipeline.syncOperations.addHandler(ReadCounter(reads))
                try channel.pipeline.syncOperations.addKafkaConnectionHandlers(
                    configuration: configuration, processor: processor, connectionId: 7, logger: logger)
            }
            try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40_000)).get()
            self.channel = channel
        }

        /// The next response frame written, size prefix included.
        func nextResponse() async throws -> ByteBuffer {
            let written = try await self.channel.waitForOutboundWrite(as: IOData.self)
            guard case .byteBuffer(let frame) = written else {
                Issue.record("expected bytes, got \(written)")
                return ByteBuffer()
            }
            return frame
        }

        /// Issues `read()` from the tail, as autoRead does after each read, and returns how many reads
        /// have reached the head of the pipeline so far.
        func requestRead() async throws -> Int {
            let channel = self.channel
            try await channel.testingEventLoop.executeInContext { channel.read() }
            return self.readsPassed
        }

        var readsPassed: Int { self.reads.value.load(ordering: .relaxed) }

        func isActive() async throws -> Bool {
            let channel = self.channel
            return try await channel.testingEventLoop.executeInContext { channel.isActive }
        }

        func finish() async throws {
            _ = try? await self.channel.finish(acceptAlreadyClosed: true)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func pipelinedRequestsAreProcessedOneAtATimeInRequestOrder(seed: UInt64) async throws {
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor)
        let count: Int32 = 40
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: 0..<count))
        await processor.waitForArrivals(1)
        // Release in a seeded random order: a request still reaches the processor only after the
        // one before it finished, and responses leave in request order.
        var random = SplitMix64(seed: seed)
        for id in Array(0..<count).shuffled(using: &random) { processor.release(id) }
        for expected in 0..<count {
            let (correlationId, body) = try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse())
            #expect(correlationId == expected, "seed \(seed)")
            #expect(body.errorCode == 0 && body.apiKeys == NetworkFixtures.apiVersionsAdvertised)
        }
        #expect(processor.arrived == Array(0..<count), "seed \(seed)")
        #expect(try await harness.isActive())
        try await harness.finish()
    }

    @Test func backPressureStopsReadingAtTheInFlightBound() async throws {
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, inFlightRequestsMax: 4)
        let readsAtStart = try await harness.requestRead()
        // One read delivers 6 frames: 4 are taken in (processed one at a time, in order), 2 wait.
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: 0..<6))
        await processor.waitForArrivals(1)
        #expect(processor.arrived == [0], "one request of a connection at a time")
        #expect(try await harness.requestRead() == readsAtStart, "at the bound, read() is swallowed")

        processor.release(0)
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 0)
        await processor.waitForArrivals(2)
        #expect(processor.arrived == [0, 1])
        _ = try await harness.isActive()  // the loop has finished handling the write
        #expect(harness.readsPassed == readsAtStart, "a waiting frame took the free slot and keeps reads stopped")

        processor.release(1)
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 1)
        await processor.waitForArrivals(3)
        _ = try await harness.isActive()
        #expect(harness.readsPassed == readsAtStart, "4 in flight again")

        processor.release(2)
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 2)
        _ = try await harness.isActive()
        #expect(harness.readsPassed == readsAtStart + 1, "below the bound: the swallowed read is issued once")
        #expect(try await harness.requestRead() == readsAtStart + 2)

        processor.release(3, 4, 5)
        for expected: Int32 in 3...5 {
            #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == expected)
        }
        #expect(processor.arrived == [0, 1, 2, 3, 4, 5], "processed in the order sent")
        try await harness.finish()
    }

    @Test func unwritableChannelStopsReading() async throws {
        let harness = try await Harness(processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0))
        let channel = harness.channel
        let before = try await harness.requestRead()
        try await channel.testingEventLoop.executeInContext {
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
        }
        #expect(try await harness.requestRead() == before, "not writable: read() is swallowed")
        try await channel.testingEventLoop.executeInContext {
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
        }
        #expect(harness.readsPassed == before + 1, "writable again: the swallowed read is issued")
        try await harness.finish()
    }

    @Test func unknownApiKeyClosesTheConnection() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, logger: logger)
        try await harness.channel.writeInbound(NetworkFixtures.rawFrame(apiKey: 32_000, apiVersion: 0, correlationId: 1, extraBytes: 4))
        try await harness.channel.closeFuture.get()
        #expect(processor.arrived.isEmpty)
        #expect(lines.contains("unknown API key 32000"))
        #expect(lines.contains("peer=192.0.2.1:40000"))
        try await harness.finish()
    }

    static let undecodableFrames: [(String, ByteBuffer)] = {
        var truncated = ByteBuffer()
        truncated.writeInteger(Int32(3), endianness: .big)
        truncated.writeBytes([0, 18, 0])
        // A whole ApiVersions v3 frame with its last 2 body bytes cut off (prefix adjusted).
        var cut = try! NetworkFixtures.apiVersionsRequest(correlationId: 5)
        cut.moveWriterIndex(to: cut.writerIndex - 2)
        cut.setInteger(Int32(cut.readableBytes - 4), at: 0, endianness: .big)
        // Header v2 of ApiVersions v3 with a client id length past the frame's end.
        var header = ByteBuffer()
        header.writeInteger(Int32(10), endianness: .big)
        header.writeInteger(ApiKey.apiVersions.rawValue, endianness: .big)
        header.writeInteger(Int16(3), endianness: .big)
        header.writeInteger(Int32(9), endianness: .big)
        header.writeInteger(Int16(500), endianness: .big)
        return [
            ("request header truncated", truncated), ("malformed request body", cut),
            ("request header", header),
        ]
    }()

    @Test(arguments: 0..<Self.undecodableFrames.count)
    func undecodableRequestsCloseTheConnection(index: Int) async throws {
        let (expectedLog, frame) = Self.undecodableFrames[index]
        let (logger, lines) = CapturingLogHandler.logger()
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, logger: logger)
        try await harness.channel.writeInbound(frame)
        try await harness.channel.closeFuture.get()
        #expect(processor.arrived.isEmpty)
        #expect(lines.contains(expectedLog), "\(lines.all)")
        try await harness.finish()
    }

    /// Kafka answers ApiVersions at an unknown version with UNSUPPORTED_VERSION at v0 so the client
    /// can retry lower; the connection stays open.
    @Test func unsupportedApiVersionsVersionIsAnswered() async throws {
        let harness = try await Harness(processor: DelayingProcessor(seed: 1, delayMicrosecondsMax: 0))
        var frame = ByteBuffer()
        frame.writeInteger(Int32(12), endianness: .big)
        frame.writeInteger(ApiKey.apiVersions.rawValue, endianness: .big)
        frame.writeInteger(Int16(99), endianness: .big)
        frame.writeInteger(Int32(41), endianness: .big)
        frame.writeInteger(Int16(-1), endianness: .big)  // null client id
        frame.writeInteger(UInt8(0))  // no tagged fields
        frame.writeInteger(UInt8(0))
        try await harness.channel.writeInbound(frame)
        let (correlationId, body) = try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse(), version: 0)
        #expect(correlationId == 41)
        #expect(body.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
        #expect(body.apiKeys == NetworkFixtures.apiVersionsAdvertised)

        // The connection still serves requests.
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequest(correlationId: 42))
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 42)
        #expect(try await harness.isActive())
        try await harness.finish()
    }

    /// The processor's default for unsupported versions is Kafka's for every API but ApiVersions: close.
    @Test func unsupportedVersionClosesByDefault() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        let harness = try await Harness(processor: GatedProcessor(), logger: logger)
        try await harness.channel.writeInbound(NetworkFixtures.rawFrame(apiKey: ApiKey.metadata.rawValue, apiVersion: 999, correlationId: 3))
        try await harness.channel.closeFuture.get()
        #expect(lines.contains("closing connection: unsupportedVersion"), "\(lines.all)")
        try await harness.finish()
    }

    @Test func oversizedFrameClosesTheConnectionWithALogLine() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, logger: logger)
        var prefix = ByteBuffer()
        prefix.writeInteger(Int32(KafkaServerConfiguration.frameSizeBytesMaxDefault + 1), endianness: .big)
        try await harness.channel.writeInbound(prefix)
        try await harness.channel.closeFuture.get()
        #expect(lines.contains("frame of 104857601 bytes exceeds socket.request.max.bytes (104857600)"), "\(lines.all)")
        #expect(processor.arrived.isEmpty)
        try await harness.finish()
    }

    @Test func responsesBeforeACloseActionAreWritten() async throws {
        struct CloseOnOdd: KafkaRequestProcessor {
            func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
                if request.correlationId == 1 { return .close(reason: "test says so") }
                if request.correlationId == 2 { return .noResponse }
                return NetworkFixtures.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion)
            }
        }
        let (logger, lines) = CapturingLogHandler.logger()
        let harness = try await Harness(processor: CloseOnOdd(), logger: logger)
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: [2, 0, 1, 3]))
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 0)
        try await harness.channel.closeFuture.get()
        #expect(try await harness.channel.readOutbound(as: IOData.self) == nil, "nothing after the close")
        #expect(lines.contains("closing connection: test says so"))
        try await harness.finish()
    }

    /// A size prefix that does not match the bytes would desynchronise the client for good: the
    /// responses before it still go out, then the connection closes.
    @Test func inconsistentResponseFrameClosesTheConnection() async throws {
        struct BadPrefix: KafkaRequestProcessor {
            func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
                guard request.correlationId == 2 else {
                    return NetworkFixtures.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion)
                }
                return .respond(ByteBuffer(bytes: [0, 0, 0, 9, 1, 2]))
            }
        }
        let (logger, lines) = CapturingLogHandler.logger()
        let harness = try await Harness(processor: BadPrefix(), logger: logger)
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: [1, 2, 3]))
        #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == 1)
        try await harness.channel.closeFuture.get()
        #expect(try await harness.channel.readOutbound(as: IOData.self) == nil)
        #expect(lines.contains("response frame inconsistent (size prefix 9, 6 bytes in 1 parts)"), "\(lines.all)")
        try await harness.finish()
    }

    @Test func respondWithPartsWritesBytesAndFileRegionsInOrder() async throws {
        struct Parts: KafkaRequestProcessor {
            let writtenCount: ReadCounter.Count
            func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
                var head = ByteBuffer()
                head.writeInteger(Int32(2 + 100 + 3), endianness: .big)
                head.writeBytes([0xA, 0xB])
                // Never read: the testing channel records the region without sendfile.
                let file = KafkaResponseFileSlice(fileDescriptor: 1_000, positionBytes: 50, sizeBytes: 100)
                let writtenCount = self.writtenCount
                return .respondWithParts(
                    [.bytes(head), .file(file), .bytes(ByteBuffer(bytes: [1, 2, 3]))],
                    whenWritten: { result in
                        if case .success = result { writtenCount.value.add(1, ordering: .relaxed) }
                    })
            }
        }
        let writtenCount = ReadCounter.Count()
        let harness = try await Harness(processor: Parts(writtenCount: writtenCount))
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequest(correlationId: 1))
        guard case .byteBuffer(let head) = try await harness.channel.waitForOutboundWrite(as: IOData.self),
            case .fileRegion(let region) = try await harness.channel.waitForOutboundWrite(as: IOData.self),
            case .byteBuffer(let tail) = try await harness.channel.waitForOutboundWrite(as: IOData.self)
        else {
            Issue.record("parts out of order")
            return
        }
        #expect(head.readableBytes == 6 && tail == ByteBuffer(bytes: [1, 2, 3]))
        #expect(region.readerIndex == 50 && region.endIndex == 150)
        // The handle was given back, not closed: the descriptor belongs to the caller.
        #expect(!region.fileHandle.isOpen)
        #expect(writtenCount.value.load(ordering: .relaxed) == 1)
        try await harness.finish()
    }

    /// `connections.max.idle.ms`: the handler closes on `IdleStateHandler`'s event only when nothing
    /// is in flight. The event is fired by hand: `IdleStateHandler` measures with the real clock, not
    /// the testing loop's (its timing is covered by `NetworkServerTests.idleConnectionIsClosed`).
    @Test func idleConnectionClosesOnlyWhenNothingIsInFlight() async throws {
        let (logger, lines) = CapturingLogHandler.logger()
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, logger: logger)
        let channel = harness.channel
        @Sendable func fireIdle() async throws {
            try await channel.testingEventLoop.executeInContext {
                channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
            }
        }
        try await channel.writeInbound(NetworkFixtures.apiVersionsRequest(correlationId: 1))
        await processor.waitForArrivals(1)
        try await fireIdle()
        #expect(try await harness.isActive(), "a request in flight is not idle")

        processor.release(1)
        _ = try await harness.nextResponse()
        try await fireIdle()
        try await channel.closeFuture.get()
        #expect(lines.contains("closing idle connection"))
        try await harness.finish()
    }

    /// Graceful shutdown of one connection: stop reading, answer what was read, then close.
    @Test func quiescedConnectionAnswersPendingRequestsThenCloses() async throws {
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor, inFlightRequestsMax: 2)
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: 0..<3))
        await processor.waitForArrivals(1)
        let channel = harness.channel
        let readsBefore = harness.readsPassed
        try await channel.testingEventLoop.executeInContext {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        #expect(try await harness.isActive())
        processor.release(0, 1, 2)
        for expected: Int32 in 0..<3 {
            #expect(try NetworkFixtures.decodeApiVersionsResponse(try await harness.nextResponse()).correlationId == expected)
        }
        try await harness.channel.closeFuture.get()
        #expect(harness.readsPassed == readsBefore, "a draining connection reads no more")
        try await harness.finish()
    }

    @Test func closingCancelsInFlightProcessing() async throws {
        let processor = GatedProcessor()
        let harness = try await Harness(processor: processor)
        try await harness.channel.writeInbound(NetworkFixtures.apiVersionsRequests(correlationIds: 0..<3))
        await processor.waitForArrivals(1)
        try await harness.channel.close()
        await processor.waitForCancellations(1)
        #expect(processor.cancelled == [0], "the request being processed is cancelled")
        #expect(processor.arrived == [0], "the ones waiting their turn are never processed")
        #expect(try await harness.channel.readOutbound(as: IOData.self) == nil)
        try await harness.finish()
    }
}
