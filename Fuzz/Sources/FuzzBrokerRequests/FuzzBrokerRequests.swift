import Dispatch
import Foundation
import KafkaProtocol
import NIOCore
import StromBroker
import StromStorage
import Synchronization

/// Arbitrary request *sequences* through a whole in-process broker (every handler, the group
/// coordinator, the logs on a simulated disk), not only the decoder. The input is a series of
/// frames, each `[UInt16 length][frame without its size prefix]`; each frame that decodes is
/// handled. Every answer must be a well-formed response frame of the request's API and version
/// with its correlation id; no request may trap or hang. A fresh broker per input keeps findings
/// reproducible from the input alone.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var frames: [ByteBuffer] = []
    while frames.count < 64, let length = input.readInteger(endianness: .big, as: UInt16.self),
          let frame = input.readSlice(length: min(Int(length), input.readableBytes)) {
        frames.append(frame)
    }
    let requests = frames.compactMap { try? KafkaRequestFrame.decode($0) }
    guard !requests.isEmpty else { return 0 }
    runToCompletion { await handleSequence(requests) }
    return 0
}

/// A broker as `strom serve` configures it, with group timings shortened so that a parked
/// JoinGroup does not outlast an input.
func fuzzBrokerConfiguration() -> BrokerConfiguration {
    var configuration = BrokerConfiguration()
    configuration.dataDirectory = "/fuzz"
    configuration.groups.initialRebalanceDelayMs = 0
    configuration.groups.offsetsTopicPartitionCount = 3
    configuration.groups.minSessionTimeoutMs = 1
    configuration.groups.maxSessionTimeoutMs = 100
    configuration.groups.consumerSessionTimeoutMs = 100
    configuration.decompressedBatchSizeBytesMax = 1 << 20
    return configuration
}

func handleSequence(_ requests: [KafkaRequest]) async {
    let broker: Broker
    do {
        broker = try await Broker.start(
            configuration: fuzzBrokerConfiguration(), advertisedHost: "127.0.0.1", advertisedPort: 9092,
            fileSystem: SimulatedFileSystem())
    } catch {
        fatalError("the broker did not start on an empty simulated disk: \(error)")
    }
    // Each request gets a moment to answer; one still waiting (a long-poll Fetch, a parked
    // JoinGroup) keeps running beside the next, as pipelined requests from several clients do.
    var pending: [Task<Void, Never>] = []
    for request in requests {
        let task = Task { check(await broker.handle(request, sendsFiles: false, clientHost: "/127.0.0.1"), for: request) }
        pending.append(task)
        _ = await finishes(task, within: .milliseconds(5))
    }
    for task in pending { task.cancel() }
    do {
        try await broker.shutdown()
    } catch {
        fatalError("shutdown failed on a simulated disk: \(error)")
    }
    for (task, request) in zip(pending, requests) where !(await finishes(task, within: .seconds(10))) {
        fatalError("\(request.apiKey) v\(request.apiVersion) was still running 10 s after its broker shut down: \(request.body)")
    }
}

/// The oracle: an answer decodes as the response of the request's API at its version, whole,
/// with the request's correlation id. A closed connection (`unsupported`) is always allowed.
func check(_ reply: Broker.Reply, for request: KafkaRequest) {
    guard case .response(var frame) = reply else {
        if case .responseParts = reply { fatalError("file parts for a connection that cannot send files") }
        return
    }
    guard let size = frame.readInteger(endianness: .big, as: Int32.self), Int(size) == frame.readableBytes else {
        fatalError("\(request.apiKey) v\(request.apiVersion): the size prefix does not match the frame")
    }
    do {
        let header = try ResponseHeader(
            from: &frame, version: KafkaHeaderVersions.response(apiKey: request.apiKey, apiVersion: request.apiVersion))
        guard header.correlationId == request.correlationId else {
            fatalError("\(request.apiKey): correlation id \(header.correlationId), asked \(request.correlationId)")
        }
        _ = try KafkaResponseBody(apiKey: request.apiKey, version: request.apiVersion, from: &frame)
    } catch {
        fatalError("\(request.apiKey) v\(request.apiVersion): the broker's response does not decode: \(error)")
    }
    if frame.readableBytes != 0 {
        fatalError("\(request.apiKey) v\(request.apiVersion): \(frame.readableBytes) bytes after the response body")
    }
}

/// Whether `task` ends within `timeout`; it runs on either way. (A task group would wait for its
/// child awaiting the task, which ignores cancellation.)
func finishes(_ task: Task<Void, Never>, within timeout: Duration) async -> Bool {
    final class Once: Sendable {
        let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)
        func resume(_ value: Bool) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }
    let once = Once()
    return await withCheckedContinuation { continuation in
        once.continuation.withLock { $0 = continuation }
        Task { await task.value; once.resume(true) }
        Task { try? await Task.sleep(for: timeout); once.resume(false) }
    }
}

/// libFuzzer calls in synchronously; the broker is async.
func runToCompletion(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}
