public import Logging
import KafkaProtocol
public import NIOCore

extension ChannelPipeline.SynchronousOperations {
    /// Installs one Kafka connection's handlers, in order:
    /// 1. `IdleStateHandler` firing after `connections.max.idle.ms` without reads or writes;
    /// 2. `KafkaFrameHandler`, bounded by `socket.request.max.bytes`;
    /// 3. ``KafkaRequestHandler``, which decodes requests, calls `processor` and writes responses.
    ///
    /// ``KafkaServer`` calls it for every accepted connection; tests and in-process brokers can call
    /// it on any channel (an `EmbeddedChannel`, a pipe).
    /// - Throws: when the pipeline refuses a handler (the channel is closing).
    public func addKafkaConnectionHandlers(
        configuration: KafkaServerConfiguration, processor: any KafkaRequestProcessor, connectionId: UInt64,
        logger: Logger
    ) throws {
        try self.addHandler(IdleStateHandler(allTimeout: configuration.connectionIdleTimeMax))
        try self.addHandler(KafkaFrameHandler(frameSizeBytesMax: configuration.frameSizeBytesMax))
        try self.addHandler(
            KafkaRequestHandler(
                processor: processor, inFlightRequestsMax: configuration.inFlightRequestsMax,
                connectionId: connectionId, requestQueued: configuration.requestQueued, logger: logger))
    }
}
