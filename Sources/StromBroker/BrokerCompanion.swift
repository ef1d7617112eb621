/// Something that runs beside a broker from before it opens its logs until after it stopped, and
/// supplies its metrics: the admin listener, which must answer (not ready) while logs recover.
public protocol BrokerCompanion: Sendable {
    /// Where the broker records its metrics.
    var metrics: BrokerMetrics { get }
    /// Starts serving; returns the bound port. Throws if it cannot (the broker does not start).
    func start() async throws -> Int
    /// The broker recovered its logs and registered: it is ready.
    func brokerStarted(_ broker: Broker)
    /// The broker began its shutdown: it is no longer ready.
    func brokerStopping()
    /// Stops serving.
    func stop() async
}
