import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// One message of a watch: the changes of one or more revisions, in revision order.
public struct EtcdWatchBatch: Sendable {
    public var events: [EtcdEvent]
    /// The store's revision when etcd sent the message: every change up to it has been seen.
    public var revision: Int64
}

extension EtcdClient {
    /// Every change to keys starting with `prefix` from `startRevision` on, as etcd streams them.
    ///
    /// The stream ends with an error when the connection drops (``EtcdError/unavailable(_:)``: watch
    /// again from the last revision seen + 1) or when `startRevision` was compacted away
    /// (``EtcdError/compacted(revision:)``: read a snapshot and watch from its revision + 1). It
    /// starts on the current endpoint and does not move by itself; cancelling the consuming task
    /// closes the connection.
    public func watch(prefix: String, startRevision: Int64) -> AsyncThrowingStream<EtcdWatchBatch, any Error> {
        let endpoint = currentEndpoint()
        let (stream, continuation) = AsyncThrowingStream<EtcdWatchBatch, any Error>.makeStream(bufferingPolicy: .unbounded)
        let task = Task {
            do {
                try await self.streamWatch(endpoint: endpoint, prefix: prefix, startRevision: startRevision, into: continuation)
                continuation.finish(throwing: EtcdError.unavailable("\(endpoint): the watch stream ended"))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func streamWatch(
        endpoint: String, prefix: String, startRevision: Int64,
        into continuation: AsyncThrowingStream<EtcdWatchBatch, any Error>.Continuation
    ) async throws {
        let create = WireWatchCreate(create_request: .init(
            key: prefix.etcdBase64, range_end: prefix.etcdPrefixEnd, start_revision: EtcdInt64(startRevision), progress_notify: true))
        var request = HTTPClientRequest(url: endpoint + "/v3/watch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(create)))
        let response: HTTPClientResponse
        do {
            // A watch lasts as long as its consumer: no deadline but the connection's life.
            response = try await httpClient.execute(request, deadline: .distantFuture)
        } catch {
            throw EtcdError.unavailable("\(endpoint): \(error)")
        }
        guard response.status == .ok else {
            throw EtcdError.server(code: Int(response.status.code), message: "watch answered \(response.status)")
        }
        var lines = EtcdLineFramer(lineBytesMax: Self.responseBytesMax)
        do {
            for try await chunk in response.body {
                for line in try lines.append(chunk) {
                    if let batch = try Self.watchBatch(from: line) { continuation.yield(batch) }
                }
            }
        } catch let error as EtcdError {
            throw error
        } catch {
            throw EtcdError.unavailable("\(endpoint): \(error)")
        }
    }

    /// The batch in one watch message; nil for messages without changes (the creation notice).
    static func watchBatch(from line: ByteBuffer) throws(EtcdError) -> EtcdWatchBatch? {
        let message: WireWatchMessage
        do {
            message = try JSONDecoder().decode(WireWatchMessage.self, from: Data(buffer: line))
        } catch {
            throw .malformedResponse("watch message: \(error)")
        }
        if let failure = message.error {
            throw .server(code: failure.code ?? 0, message: failure.message ?? "watch failed")
        }
        guard let result = message.result else { throw .malformedResponse("watch message without a result") }
        if result.canceled == true {
            if let compacted = result.compact_revision?.value, compacted > 0 { throw .compacted(revision: compacted) }
            throw .server(code: 0, message: "watch canceled: \(result.cancel_reason ?? "no reason given")")
        }
        let revision = result.header?.revision?.value ?? 0
        var events: [EtcdEvent] = []
        for event in result.events ?? [] {
            guard let keyValue = event.kv else { throw .malformedResponse("watch event without a key") }
            events.append(EtcdEvent(kind: event.type == "DELETE" ? .delete : .put, keyValue: try keyValue.keyValue()))
        }
        if result.created == true && events.isEmpty { return nil }
        return EtcdWatchBatch(events: events, revision: revision)
    }
}

/// Cuts a byte stream into newline-terminated lines (the gateway ends each watch message with one),
/// refusing a line longer than `lineBytesMax`.
struct EtcdLineFramer {
    let lineBytesMax: Int
    private var pending = ByteBuffer()

    init(lineBytesMax: Int) {
        self.lineBytesMax = lineBytesMax
    }

    mutating func append(_ chunk: ByteBuffer) throws(EtcdError) -> [ByteBuffer] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var lines: [ByteBuffer] = []
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            if let line = pending.readSlice(length: length), line.readableBytes > 0 { lines.append(line) }
            pending.moveReaderIndex(forwardBy: 1)
        }
        guard pending.readableBytes <= lineBytesMax else {
            throw .malformedResponse("a watch message over \(lineBytesMax) bytes")
        }
        pending.discardReadBytes()
        return lines
    }
}
