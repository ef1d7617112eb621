import KafkaProtocol
import NIOCore

/// One request on its way to the broker: written by ``KafkaClientConnection`` into the channel.
struct KafkaClientCall: Sendable {
    var apiKey: ApiKey
    var correlationId: Int32
    /// The whole request frame, size prefix included.
    var frame: ByteBuffer
    /// Completed with the response frame (size prefix removed); nil for requests the broker does
    /// not answer (acks=0 produce).
    var responsePromise: EventLoopPromise<ByteBuffer>?
    var timeout: TimeAmount
}

/// Asks the handler to give up on a call whose task was cancelled.
struct KafkaClientCallCancellation: Sendable {
    var correlationId: Int32
}

/// Writes request frames and completes each call's promise with the response that carries its
/// correlation id. Any number of calls may be in flight (pipelining); the broker answers in
/// request order but the handler does not rely on it.
///
/// Every call with a response has a timer: when it fires the call fails with
/// ``StromClientError/timedOut(apiKey:correlationId:timeoutMs:)`` and a response arriving later
/// for that correlation id is dropped. When the connection closes or fails, every pending call
/// fails with ``StromClientError/connectionClosed(host:port:reason:)``, and so does every call
/// written afterwards. All state is confined to the channel's event loop.
final class KafkaClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = KafkaClientCall
    typealias OutboundOut = ByteBuffer

    private struct InFlightCall {
        var apiKey: ApiKey
        var promise: EventLoopPromise<ByteBuffer>
        var timeoutTask: Scheduled<Void>
    }

    private let host: String
    private let port: Int
    private let inFlightRequestsMax: Int
    private var inFlight: [Int32: InFlightCall] = [:]
    /// Set once the connection is closing or closed: why, for the calls that fail because of it.
    private var closedReason: String?

    init(host: String, port: Int, inFlightRequestsMax: Int = ClientLimits.inFlightRequestsMax) {
        self.host = host
        self.port = port
        self.inFlightRequestsMax = inFlightRequestsMax
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let closedReason {
            let error = StromClientError.connectionClosed(host: host, port: port, reason: closedReason)
            call.responsePromise?.fail(error)
            promise?.fail(error)
            return
        }
        guard let responsePromise = call.responsePromise else {
            context.write(wrapOutboundOut(call.frame), promise: promise)
            return
        }
        guard inFlight.count < inFlightRequestsMax else {
            let error = StromClientError.tooManyInFlightRequests(limit: inFlightRequestsMax)
            responsePromise.fail(error)
            promise?.fail(error)
            return
        }
        let correlationId = call.correlationId
        // Ids wrap after 2^31 calls; every call ends within its timeout long before that.
        precondition(inFlight[correlationId] == nil, "correlation id \(correlationId) is already in flight")
        let timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: call.timeout) {
            self.timeOut(correlationId: correlationId, timeout: call.timeout)
        }
        inFlight[correlationId] = InFlightCall(apiKey: call.apiKey, promise: responsePromise, timeoutTask: timeoutTask)
        let writePromise = promise ?? context.eventLoop.makePromise()
        writePromise.futureResult.assumeIsolated().whenFailure { error in
            // A write that fails while the channel stays open (rare) must not leave the call waiting.
            self.fail(correlationId: correlationId, with: .connectionClosed(host: self.host, port: self.port, reason: "write failed: \(error)"))
        }
        context.write(wrapOutboundOut(call.frame), promise: writePromise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let cancellation = event as? KafkaClientCallCancellation else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        fail(correlationId: cancellation.correlationId, with: .cancelled)
        promise?.succeed()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if closedReason == nil { closedReason = "closed by the client" }
        context.close(mode: mode, promise: promise)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // Both response header versions start with the correlation id.
        guard let correlationId = frame.getInteger(at: frame.readerIndex, endianness: .big, as: Int32.self) else {
            closedReason = "a \(frame.readableBytes)-byte response frame has no correlation id"
            context.close(promise: nil)
            return
        }
        // No entry: the call timed out or was cancelled, and its answer came late. Dropped.
        guard let call = inFlight.removeValue(forKey: correlationId) else { return }
        call.timeoutTask.cancel()
        call.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = closedReason ?? "closed by the broker"
        closedReason = reason
        failAll(.connectionClosed(host: host, port: port, reason: reason))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closedReason == nil { closedReason = "\(error)" }
        failAll(.connectionClosed(host: host, port: port, reason: closedReason ?? "\(error)"))
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The pipeline is torn down after close; nothing may keep waiting on it.
        failAll(.connectionClosed(host: host, port: port, reason: closedReason ?? "closed"))
    }

    // MARK: Completion

    private func timeOut(correlationId: Int32, timeout: TimeAmount) {
        guard let call = inFlight.removeValue(forKey: correlationId) else { return }
        call.promise.fail(StromClientError.timedOut(apiKey: call.apiKey, correlationId: correlationId, timeoutMs: timeout.nanoseconds / 1_000_000))
    }

    private func fail(correlationId: Int32, with error: StromClientError) {
        guard let call = inFlight.removeValue(forKey: correlationId) else { return }
        call.timeoutTask.cancel()
        call.promise.fail(error)
    }

    private func failAll(_ error: StromClientError) {
        let calls = inFlight
        inFlight.removeAll()
        for call in calls.values {
            call.timeoutTask.cancel()
            call.promise.fail(error)
        }
    }
}

@available(*, unavailable)
extension KafkaClientChannelHandler: Sendable {}
