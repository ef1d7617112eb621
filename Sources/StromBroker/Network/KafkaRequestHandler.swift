internal import KafkaProtocol
public import Logging
public import NIOCore

/// Turns a connection's frames into requests for a ``KafkaRequestProcessor`` and writes the answers
/// back in request order.
///
/// Sits after `KafkaFrameHandler` (see
/// `ChannelPipeline.SynchronousOperations.addKafkaConnectionHandlers`). For each frame it:
/// 1. decodes the header and body on the event loop (cheap: record data stays a slice);
/// 2. runs the processor in a `Task`, one request of the connection after the other, in the order
///    they arrived: Kafka's guarantee that one connection's requests are processed in order (a
///    producer's pipelined batches land in the log in the order sent). A request may let the next
///    one start before it is answered (``RequestOrderGate``: an acks=all Produce once its batches
///    are appended, so waits for replication overlap). Reading, decoding and writing responses
///    still overlap with processing;
/// 3. hops the result back to the event loop and writes every response whose predecessors are all
///    written (``PendingResponses``), flushing once per batch.
///
/// Back-pressure: the handler swallows `read()` while ``KafkaServerConfiguration/inFlightRequestsMax``
/// requests are pending or the channel is not writable, and issues it again once both clear. With
/// no `read()` the socket is not read, the kernel's receive buffer fills and TCP stops the client.
/// Frames that were already in the last read's bytes wait in a queue, unprocessed; that queue is
/// bounded by the bytes of one read.
///
/// Closing: frame errors, undecodable requests (unknown API key, truncated or malformed header,
/// malformed body), a processor's `.close` and write errors close the connection with a log line,
/// as Kafka does. An idle event from `IdleStateHandler` closes it when nothing is in flight
/// (`connections.max.idle.ms`); `ChannelShouldQuiesceEvent` (graceful shutdown) stops reading,
/// lets the pending requests finish and then closes. In-flight tasks of a closed connection are
/// cancelled and their results discarded.
public final class KafkaRequestHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    private enum State {
        /// Reading and answering.
        case open
        /// Graceful shutdown: no more reads; close once pending and parked requests are answered.
        case draining
        /// Close requested; waiting for `channelInactive`.
        case closing
        case closed
    }

    private let processor: any KafkaRequestProcessor
    private let requestQueued: (@Sendable (_ apiKey: Int16, _ waited: Duration) -> Void)?
    /// Whether the processor has been told the connection closed.
    private var closeReported = false
    private let inFlightRequestsMax: Int
    private let connectionId: UInt64
    private var logger: Logger
    private var connection: KafkaConnectionInfo
    private var state: State = .open
    private var context: ChannelHandlerContext?
    private var pending: PendingResponses
    /// Frames read while `pending` was full; bounded by what one read delivered (reading stops).
    private var parkedFrames: CircularBuffer<ByteBuffer>
    /// Opened when the latest request's ordered phase ends; the next request starts then.
    private var lastGate: RequestOrderGate?
    /// A `read()` was swallowed and must be issued once reading may resume.
    private var readRequested = false

    /// - Parameters:
    ///   - processor: answers the decoded requests.
    ///   - inFlightRequestsMax: requests of this connection processed or waiting to be written at
    ///     once (``KafkaServerConfiguration/inFlightRequestsMax``).
    ///   - connectionId: unique per server, reported in ``KafkaConnectionInfo``.
    ///   - requestQueued: told each request's wait before processing (``KafkaServerConfiguration/requestQueued``).
    ///   - logger: receives the connection's log lines, with `peer` and `connection` metadata.
    public init(
        processor: any KafkaRequestProcessor,
        inFlightRequestsMax: Int = KafkaServerConfiguration.inFlightRequestsMaxDefault,
        connectionId: UInt64,
        requestQueued: (@Sendable (_ apiKey: Int16, _ waited: Duration) -> Void)? = nil,
        logger: Logger
    ) {
        self.requestQueued = requestQueued
        precondition(inFlightRequestsMax >= 1, "inFlightRequestsMax must be at least 1: \(inFlightRequestsMax)")
        self.processor = processor
        self.inFlightRequestsMax = inFlightRequestsMax
        self.connectionId = connectionId
        self.logger = logger
        self.connection = KafkaConnectionInfo(connectionId: connectionId, remoteAddress: nil, localAddress: nil)
        self.pending = PendingResponses(capacity: inFlightRequestsMax)
        self.parkedFrames = CircularBuffer(initialCapacity: 16)
    }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.recordAddresses(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.state = .closed
        self.tearDown()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.recordAddresses(context: context)
        self.logger.debug("connection opened")
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if self.state != .closed { self.logger.debug("connection closed") }
        self.state = .closed
        self.tearDown()
        context.fireChannelInactive()
    }

    private func recordAddresses(context: ChannelHandlerContext) {
        let channel = context.channel
        self.connection = KafkaConnectionInfo(
            connectionId: self.connectionId, remoteAddress: channel.remoteAddress, localAddress: channel.localAddress)
        self.logger[metadataKey: "peer"] = "\(KafkaConnectionInfo.format(channel.remoteAddress))"
        self.logger[metadataKey: "connection"] = "\(self.connectionId)"
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch self.state {
        case .open, .draining:
            // Frames already read still count as sent by the client, so a draining connection
            // answers them too.
            if self.parkedFrames.isEmpty && self.pending.count < self.inFlightRequestsMax {
                self.start(frame: frame, context: context)
            } else {
                self.parkedFrames.append(frame)
            }
        case .closing, .closed:
            break
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent {
            // A request in flight (a long-poll fetch, an acks=all produce) is activity even though no
            // bytes move: closing under it would drop an answer the client is waiting for.
            // IdleStateHandler fires again a timeout later, by when it has been written.
            if self.state == .open, self.pending.isEmpty, self.parkedFrames.isEmpty {
                self.logger.info("closing idle connection (connections.max.idle.ms)", metadata: ["idle": "\(idle)"])
                self.close(context: context)
            }
            return
        }
        if event is ChannelShouldQuiesceEvent {
            if self.state == .open {
                self.logger.debug("draining connection for shutdown", metadata: ["pendingRequests": "\(self.pending.count)"])
                self.state = .draining
                self.closeIfDrained(context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch self.state {
        case .closing, .closed:
            // Later errors of a failing connection (bytes after a bad frame, a reset) add nothing.
            return
        case .open, .draining:
            break
        }
        switch error {
        case KafkaFrameError.frameTooLarge(let sizeBytes, let limitBytes):
            self.logger.warning(
                "closing connection: frame of \(sizeBytes) bytes exceeds socket.request.max.bytes (\(limitBytes))")
        case KafkaFrameError.negativeSize(let sizeBytes):
            self.logger.warning("closing connection: negative frame size \(sizeBytes)")
        case let error as IOError:
            // Resets and broken pipes are how clients leave; not worth more than debug.
            self.logger.debug("closing connection: \(error)")
        default:
            self.logger.warning("closing connection: \(error)")
        }
        self.close(context: context)
    }

    // MARK: - Outbound

    public func read(context: ChannelHandlerContext) {
        if self.mayRead(context: context) {
            context.read()
        } else {
            self.readRequested = true
        }
    }

    // MARK: - Requests

    private func mayRead(context: ChannelHandlerContext) -> Bool {
        self.state == .open && self.parkedFrames.isEmpty && self.pending.count < self.inFlightRequestsMax
            && context.channel.isWritable
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if self.readRequested && self.mayRead(context: context) {
            self.readRequested = false
            context.read()
        }
    }

    private enum Work: Sendable {
        case request(KafkaRequest)
        case unsupportedVersion(KafkaRequestFrameError)
    }

    private func start(frame: ByteBuffer, context: ChannelHandlerContext) {
        do {
            let request = try KafkaRequestFrame.decode(frame)
            self.launch(
                .request(request), apiKey: request.apiKey.rawValue, apiVersion: request.apiVersion,
                correlationId: request.correlationId, context: context)
        } catch {
            switch error {
            case .unsupportedVersion(let apiKey, let apiVersion, let correlationId):
                // Kafka answers ApiVersions at an unknown version (so the client can downgrade);
                // the processor decides, and closes for other APIs.
                self.launch(
                    .unsupportedVersion(error), apiKey: apiKey.rawValue, apiVersion: apiVersion,
                    correlationId: correlationId, context: context)
            case .unknownApiKey(let apiKey, let apiVersion, let correlationId):
                self.logger.warning(
                    "closing connection: unknown API key \(apiKey)",
                    metadata: ["apiVersion": "\(apiVersion)", "correlationId": "\(correlationId)"])
                self.close(context: context)
            case .truncatedHeader(let frameBytes):
                self.logger.warning("closing connection: request header truncated (frame of \(frameBytes) bytes)")
                self.close(context: context)
            case .malformedHeader(let apiKey, let apiVersion, let correlationId, let cause):
                self.logger.warning(
                    "closing connection: malformed \(apiKey) v\(apiVersion) request header: \(cause)",
                    metadata: ["correlationId": "\(correlationId)"])
                self.close(context: context)
            case .malformedBody(let header, let cause):
                self.logger.warning(
                    "closing connection: malformed request body: \(cause)",
                    metadata: [
                        "apiKey": "\(header.requestApiKey)", "apiVersion": "\(header.requestApiVersion)",
                        "correlationId": "\(header.correlationId)",
                    ])
                self.close(context: context)
            }
        }
    }

    private func launch(
        _ work: Work, apiKey: Int16, apiVersion: Int16, correlationId: Int32, context: ChannelHandlerContext
    ) {
        let sequence = self.pending.nextSequence
        let processor = self.processor
        let connection = self.connection
        let eventLoop = context.eventLoop
        // The task only sends its result back to the loop; everything stateful happens there, and
        // the loop runs the completion after this method has appended the entry.
        let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
        let previous = self.lastGate
        let gate = RequestOrderGate()
        let requestQueued = self.requestQueued
        let received = ContinuousClock.now
        let task = Task {
            // Opened however this task ends, so the connection's next request never waits forever.
            defer { gate.open() }
            await previous?.wait()
            // The connection closed while this request waited its turn: nothing to answer.
            if Task.isCancelled { return }
            requestQueued?(apiKey, ContinuousClock.now - received)
            let action: KafkaResponseAction
            switch work {
            case .request(let request):
                action = await processor.process(request, connection: connection, orderedPhaseDone: { gate.open() })
            case .unsupportedVersion(let error):
                action = await processor.processUnsupportedVersion(error, connection: connection)
            }
            eventLoop.execute { loopBoundSelf.value.completed(sequence: sequence, action: action) }
        }
        self.lastGate = gate
        self.logger.trace(
            "request received",
            metadata: ["apiKey": "\(apiKey)", "apiVersion": "\(apiVersion)", "correlationId": "\(correlationId)"])
        self.pending.append(
            .init(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, progress: .processing(task)))
    }

    /// A processor call finished: on the event loop, in any order.
    private func completed(sequence: UInt64, action: KafkaResponseAction) {
        guard let context = self.context, self.state != .closed, self.state != .closing,
            self.pending.complete(sequence: sequence, with: action)
        else {
            Self.discard(action)
            return
        }
        self.writeReadyResponses(context: context)
    }

    /// Writes every response whose predecessors are written, then starts parked frames and resumes
    /// reading if the connection dropped below its bounds.
    private func writeReadyResponses(context: ChannelHandlerContext) {
        var wroteAny = false
        while self.state == .open || self.state == .draining, let (entry, action) = self.pending.popFirstReady() {
            switch action {
            case .respond(let frame):
                guard self.checkSizePrefix(parts: CollectionOfOne<KafkaResponsePart>(.bytes(frame)), entry: entry) else {
                    self.closeAfterFlushing(wroteAny, context: context)
                    return
                }
                context.write(Self.wrapOutboundOut(.byteBuffer(frame)), promise: nil)
                wroteAny = true
            case .respondWithParts(let parts, let whenWritten):
                guard self.checkSizePrefix(parts: parts, entry: entry) else {
                    whenWritten?(.failure(ChannelError.ioOnClosedChannel))
                    self.closeAfterFlushing(wroteAny, context: context)
                    return
                }
                self.write(parts: parts, whenWritten: whenWritten, context: context)
                wroteAny = true
            case .noResponse:
                break
            case .close(let reason):
                self.logger.info(
                    "closing connection: \(reason)",
                    metadata: ["apiKey": "\(entry.apiKey)", "apiVersion": "\(entry.apiVersion)", "correlationId": "\(entry.correlationId)"])
                self.closeAfterFlushing(wroteAny, context: context)
                return
            }
        }
        if wroteAny { context.flush() }
        self.startParkedFrames(context: context)
        self.resumeReadingIfPossible(context: context)
        self.closeIfDrained(context: context)
    }

    private func startParkedFrames(context: ChannelHandlerContext) {
        while self.state == .open || self.state == .draining, self.pending.count < self.inFlightRequestsMax,
            let frame = self.parkedFrames.popFirst()
        {
            self.start(frame: frame, context: context)
        }
    }

    private func closeIfDrained(context: ChannelHandlerContext) {
        if self.state == .draining, self.pending.isEmpty, self.parkedFrames.isEmpty {
            self.logger.debug("connection drained; closing")
            self.close(context: context)
        }
    }

    // MARK: - Writing

    /// The size prefix must match the bytes that follow, or the client's stream is desynchronised
    /// for good. A mismatch is a bug in a handler, not in the client: log it loudly and close.
    private func checkSizePrefix(parts: some Collection<KafkaResponsePart>, entry: PendingResponses.Entry) -> Bool {
        var totalBytes = 0
        var valid = true
        for part in parts {
            if case .file(let slice) = part, slice.positionBytes < 0 || slice.sizeBytes < 0 { valid = false }
            totalBytes += part.sizeBytes
        }
        var prefix: Int32?
        if case .bytes(let first) = parts.first { prefix = first.getInteger(at: first.readerIndex, endianness: .big, as: Int32.self) }
        if valid, let prefix, Int(prefix) == totalBytes - 4 { return true }
        self.logger.error(
            "closing connection: response frame inconsistent (size prefix \(prefix.map(String.init) ?? "missing"), \(totalBytes) bytes in \(parts.count) parts)",
            metadata: ["apiKey": "\(entry.apiKey)", "apiVersion": "\(entry.apiVersion)", "correlationId": "\(entry.correlationId)"])
        return false
    }

    private func write(
        parts: [KafkaResponsePart], whenWritten: (@Sendable (Result<Void, any Error>) -> Void)?,
        context: ChannelHandlerContext
    ) {
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            var promise: EventLoopPromise<Void>? = nil
            if isLast, let whenWritten {
                promise = context.eventLoop.makePromise()
                promise?.futureResult.whenComplete(whenWritten)
            }
            switch part {
            case .bytes(let buffer):
                context.write(Self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
            case .file(let slice) where slice.sizeBytes == 0:
                // Nothing to send; an empty buffer still completes the promise in order.
                context.write(Self.wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise)
            case .file(let slice):
                // A handle per write, handed back (not closed) once NIO is done with it: the
                // descriptor belongs to the storage layer.
                let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: slice.fileDescriptor)
                let region = FileRegion(
                    fileHandle: handle, readerIndex: slice.positionBytes, endIndex: slice.positionBytes + slice.sizeBytes)
                let released = context.eventLoop.makePromise(of: Void.self)
                released.futureResult.whenComplete { _ in
                    // Cannot fail: NIO has finished with the handle once the write completed.
                    _ = try? handle.takeDescriptorOwnership()
                }
                if let promise { released.futureResult.cascade(to: promise) }
                context.write(Self.wrapOutboundOut(.fileRegion(region)), promise: released)
            }
        }
    }

    // MARK: - Closing

    /// Closes after handing the responses written so far to the socket: they are whole and the
    /// client is waiting for them.
    private func closeAfterFlushing(_ wroteAny: Bool, context: ChannelHandlerContext) {
        if wroteAny { context.flush() }
        self.close(context: context)
    }

    private func close(context: ChannelHandlerContext) {
        switch self.state {
        case .open, .draining:
            self.state = .closing
            // Nothing read after this point is processed; cancel what is running now rather than at
            // channelInactive, which may come later.
            self.tearDown()
            context.close(promise: nil)
        case .closing, .closed:
            break
        }
    }

    /// Cancels running requests and discards waiting responses.
    private func tearDown() {
        if !self.closeReported {
            // Once: both channelInactive and handlerRemoved come here.
            self.closeReported = true
            self.processor.connectionClosed(self.connection)
        }
        for entry in self.pending.removeAll() {
            switch entry.progress {
            case .processing(let task): task.cancel()
            case .ready(let action): Self.discard(action)
            }
        }
        self.parkedFrames.removeAll()
        self.lastGate = nil
    }

    /// Releases what an unwritten response holds (file slices wait for `whenWritten`).
    private static func discard(_ action: KafkaResponseAction) {
        if case .respondWithParts(_, let whenWritten) = action {
            whenWritten?(.failure(ChannelError.ioOnClosedChannel))
        }
    }
}

@available(*, unavailable)
extension KafkaRequestHandler: Sendable {}
