import KafkaProtocol
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import StromBroker
import StromTestSupport
import Synchronization
import Testing

// Shared by NetworkTests.swift (handler in NIOAsyncTestingChannel) and NetworkServerTests.swift
// (a real server on 127.0.0.1, port 0).

enum NetworkFixtures {
    /// The ranges the test processors advertise.
    static let apiVersionsAdvertised = [ApiVersionsResponse.ApiVersion(apiKey: ApiKey.apiVersions.rawValue, minVersion: 0, maxVersion: 4)]

    /// A whole ApiVersions request frame, size prefix included.
    static func apiVersionsRequest(correlationId: Int32, version: Int16 = 3) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try KafkaRequestFrame.encode(
            ApiVersionsRequest(clientSoftwareName: "strom-tests", clientSoftwareVersion: "1"), version: version,
            correlationId: correlationId, clientId: "network-tests", into: &buffer)
        return buffer
    }

    /// Frames concatenated into one buffer (a pipelining client's single write).
    static func apiVersionsRequests(correlationIds: some Sequence<Int32>) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for correlationId in correlationIds {
            var frame = try apiVersionsRequest(correlationId: correlationId)
            buffer.writeBuffer(&frame)
        }
        return buffer
    }

    /// A frame whose fixed header start names `apiKey` at `apiVersion`, with `extraBytes` zero bytes after.
    static func rawFrame(apiKey: Int16, apiVersion: Int16, correlationId: Int32, extraBytes: Int = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(8 + extraBytes), endianness: .big)
        buffer.writeInteger(apiKey, endianness: .big)
        buffer.writeInteger(apiVersion, endianness: .big)
        buffer.writeInteger(correlationId, endianness: .big)
        buffer.writeRepeatingByte(0, count: extraBytes)
        return buffer
    }

    /// The response frame a test processor answers ApiVersions with, at the request's version.
    static func apiVersionsResponse(correlationId: Int32, version: Int16, errorCode: Int16 = 0) -> KafkaResponseAction {
        var buffer = ByteBuffer()
        do {
            try KafkaResponseFrame.encode(
                ApiVersionsResponse(errorCode: errorCode, apiKeys: apiVersionsAdvertised), version: version,
                correlationId: correlationId, into: &buffer)
        } catch {
            return .close(reason: "test processor could not encode: \(error)")
        }
        return .respond(buffer)
    }

    /// Kafka's answer to ApiVersions at a version it does not know: v0, UNSUPPORTED_VERSION.
    static func answerUnsupportedApiVersions(_ error: KafkaRequestFrameError) -> KafkaResponseAction {
        guard case .unsupportedVersion(.apiVersions, _, let correlationId) = error else {
            return .close(reason: "unsupported version: \(error)")
        }
        return apiVersionsResponse(correlationId: correlationId, version: 0, errorCode: KafkaErrorCode.unsupportedVersion.rawValue)
    }

    /// Decodes a response frame (size prefix included) of an ApiVersions request.
    static func decodeApiVersionsResponse(_ frame: ByteBuffer, version: Int16 = 3) throws -> (correlationId: Int32, body: ApiVersionsResponse) {
        var frame = frame
        let prefix = frame.readInteger(endianness: .big, as: Int32.self)
        let size = try #require(prefix)
        #expect(Int(size) == frame.readableBytes, "size prefix matches the frame")
        let (header, body) = try KafkaResponseFrame.decode(ApiVersionsResponse.self, version: version, from: frame)
        return (header.correlationId, body)
    }

    /// Same, for a response without its size prefix (as the client's frame decoder delivers it).
    static func decodeApiVersionsResponseBody(_ frame: ByteBuffer, version: Int16 = 3) throws -> (correlationId: Int32, body: ApiVersionsResponse) {
        let (header, body) = try KafkaResponseFrame.decode(ApiVersionsResponse.self, version: version, from: frame)
        return (header.correlationId, body)
    }
}

/// Answers ApiVersions after a pseudo-random delay of up to `delayMicrosecondsMax`, derived from the
/// seed and the correlation id, so pipelined requests finish out of order (the delay simulates
/// processing time; no test waits on it).
struct DelayingProcessor: KafkaRequestProcessor {
    var seed: UInt64
    var delayMicrosecondsMax: Int

    func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        var random = SplitMix64(seed: self.seed ^ UInt64(UInt32(bitPattern: request.correlationId)))
        if self.delayMicrosecondsMax > 0 {
            try? await Task.sleep(for: .microseconds(random.below(self.delayMicrosecondsMax)))
        }
        return NetworkFixtures.apiVersionsResponse(correlationId: request.correlationId, version: request.apiVersion)
    }

    func processUnsupportedVersion(_ error: KafkaRequestFrameError, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        NetworkFixtures.answerUnsupportedApiVersions(error)
    }
}

/// Holds every request until the test releases its correlation id, so tests decide the order in
/// which processing finishes. Records arrivals and cancellations; every wait is on an event.
final class GatedProcessor: KafkaRequestProcessor {
    private struct State {
        var arrived: [Int32] = []
        var released: Set<Int32> = []
        var cancelled: Set<Int32> = []
        var gates: [Int32: CheckedContinuation<Void, Never>] = [:]
        var arrivalWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var cancellationWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var arrived: [Int32] { self.state.withLock { $0.arrived } }
    var cancelled: Set<Int32> { self.state.withLock { $0.cancelled } }

    func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        let id = request.correlationId
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                self.state.withLock { state in
                    state.arrived.append(id)
                    if state.released.contains(id) || state.cancelled.contains(id) {
                        continuation.resume()
                    } else {
                        state.gates[id] = continuation
                    }
                    Self.resumeWaiters(&state.arrivalWaiters, reached: state.arrived.count)
                }
            }
        } onCancel: {
            self.state.withLock { state in
                state.cancelled.insert(id)
                state.gates.removeValue(forKey: id)?.resume()
                Self.resumeWaiters(&state.cancellationWaiters, reached: state.cancelled.count)
            }
        }
        return NetworkFixtures.apiVersionsResponse(correlationId: id, version: request.apiVersion)
    }

    func release(_ ids: Int32...) {
        for id in ids {
            self.state.withLock { state in
                state.released.insert(id)
                state.gates.removeValue(forKey: id)?.resume()
            }
        }
    }

    /// Returns once `count` requests have reached the processor.
    func waitForArrivals(_ count: Int) async {
        await withCheckedContinuation { continuation in
            self.state.withLock { state in
                if state.arrived.count >= count { continuation.resume() } else { state.arrivalWaiters.append((count, continuation)) }
            }
        }
    }

    /// Returns once `count` requests have been cancelled.
    func waitForCancellations(_ count: Int) async {
        await withCheckedContinuation { continuation in
            self.state.withLock { state in
                if state.cancelled.count >= count { continuation.resume() } else { state.cancellationWaiters.append((count, continuation)) }
            }
        }
    }

    private static func resumeWaiters(_ waiters: inout [(count: Int, continuation: CheckedContinuation<Void, Never>)], reached: Int) {
        waiters.removeAll { waiter in
            guard waiter.count <= reached else { return false }
            waiter.continuation.resume()
            return true
        }
    }
}

/// Counts `read()` calls that reach the head of the pipeline: reads the request handler let through.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = IOData

    final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    private let count: Count

    init(_ count: Count) { self.count = count }

    func read(context: ChannelHandlerContext) {
        self.count.value.add(1, ordering: .relaxed)
        context.read()
    }
}

@available(*, unavailable)
extension ReadCounter: Sendable {}

/// Collects log lines so tests can check a close was logged.
struct CapturingLogHandler: LogHandler {
    final class Lines: Sendable {
        private struct State {
            var lines: [String] = []
            var waiters: [(fragment: String, continuation: CheckedContinuation<Void, Never>)] = []
        }

        private let state = Mutex(State())

        func append(_ line: String) {
            self.state.withLock { state in
                state.lines.append(line)
                state.waiters.removeAll { waiter in
                    guard line.contains(waiter.fragment) else { return false }
                    waiter.continuation.resume()
                    return true
                }
            }
        }

        var all: [String] { self.state.withLock { $0.lines } }
        func contains(_ fragment: String) -> Bool { self.all.contains { $0.contains(fragment) } }

        /// Returns once a line containing `fragment` has been logged (or already was).
        func waitFor(_ fragment: String) async {
            await withCheckedContinuation { continuation in
                self.state.withLock { state in
                    if state.lines.contains(where: { $0.contains(fragment) }) {
                        continuation.resume()
                    } else {
                        state.waiters.append((fragment, continuation))
                    }
                }
            }
        }
    }

    let lines: Lines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        self.lines.append("\(event.level) \(event.message) \(rendered)")
    }

    static func logger() -> (Logger, Lines) {
        let lines = Lines()
        return (Logger(label: "strom.network.test") { _ in CapturingLogHandler(lines: lines) }, lines)
    }
}

/// A Kafka client connection for the loopback tests: frames out, frames (size prefix removed) in.
struct TestClient {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(KafkaFrameHandler(frameSizeBytesMax: KafkaServerConfiguration.frameSizeBytesMaxDefault))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Reads until the server closes the connection; returns the frames read before that. A reset
    /// counts as a close.
    static func readUntilClosed(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async -> [ByteBuffer] {
        var frames: [ByteBuffer] = []
        do {
            for try await frame in inbound { frames.append(frame) }
        } catch {
            // ECONNRESET and friends: the server closed with unread data in its buffer.
        }
        return frames
    }
}

/// Starts a server on 127.0.0.1, port 0, runs `body` with it and its port, and always shuts it down.
@discardableResult
func withTestServer<Result>(
    processor: any KafkaRequestProcessor,
    configure: (inout KafkaServerConfiguration) -> Void = { _ in },
    logger: Logger = Logger(label: "strom.network.test"),
    _ body: (KafkaServer, Int) async throws -> Result
) async throws -> Result {
    var configuration = KafkaServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = KafkaServer(configuration: configuration, processor: processor, logger: logger)
    let address = try await server.start()
    let port = try #require(address.port)
    do {
        let result = try await body(server, port)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}
