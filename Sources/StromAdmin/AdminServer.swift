public import Logging
public import StromBroker
import Dispatch
import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import NIOPosix
import Prometheus
import StromConsole
import Synchronization

/// The admin listener (`admin.listen`, Hummingbird): `/metrics` in Prometheus's text format,
/// `/health` (the process and its event loops answer) and `/ready` (logs recovered, metadata
/// loaded, registered; false again once shutdown begins) for supervisors and load balancers.
public final class AdminServer: BrokerCompanion {
    public let metrics: BrokerMetrics
    /// Every metric the broker records; `/metrics` emits it.
    let registry: PrometheusCollectorRegistry
    private let host: String
    private let port: Int
    let logger: Logger
    let broker = Mutex<Broker?>(nil)
    private let serving = Mutex<Task<Void, Never>?>(nil)
    /// `alerts.file`, read at start.
    private let alertsFile: String?
    private let alerts = Mutex<AlertRuntime?>(nil)
    /// Who may use the console and the endpoints (a login off loopback).
    let access: ConsoleAccess
    /// The console's connection to this broker's Kafka listener.
    let consoleClient = ConsoleClient()

    public init(host: String, port: Int, alertsFile: String? = nil, access: ConsoleAccess? = nil, logger: Logger) {
        self.host = host
        self.port = port
        self.alertsFile = alertsFile
        self.access = access ?? ConsoleAccess(host: host, passwordHash: nil, readOnlyPasswordHash: nil)
        self.logger = logger
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Request and flush times on one machine run from tens of microseconds to seconds.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        let counts: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024]
        factory.valueHistogramBuckets[BrokerMetrics.groupCommitWaitersName] = counts
        factory.valueHistogramBuckets[BrokerMetrics.groupCommitLogsName] = counts
        self.registry = registry
        self.metrics = BrokerMetrics(factory: factory)
    }

    public func start() async throws -> Int {
        let port = try await listen()
        if let alertsFile {
            let runtime = try await AlertRuntime(
                path: alertsFile, externalURL: "http://\(host):\(port)", factory: metrics.factory, logger: Logger(label: "strom.alerts"))
            alerts.withLock { $0 = runtime }
        }
        return port
    }

    private func listen() async throws -> Int {
        let (bound, binding) = AsyncStream<Result<Int, any Error>>.makeStream()
        let application = Application(
            router: makeRouter(), configuration: .init(address: .hostname(host, port: port), serverName: "strom"),
            onServerRunning: { channel in binding.yield(.success(channel.localAddress?.port ?? 0)) },
            logger: logger)
        let task = Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                binding.yield(.failure(error))
            }
            binding.finish()
        }
        serving.withLock { $0 = task }
        for await result in bound { return try result.get() }
        throw AdminListenerStopped(address: "\(host):\(port)")
    }

    public func brokerStarted(_ broker: Broker) {
        self.broker.withLock { $0 = broker }
        alerts.withLock { $0 }?.start(broker: broker)
    }

    public func brokerStopping() {
        broker.withLock { $0 = nil }
    }

    public func stop() async {
        await alerts.withLock({ $0 })?.stop()
        await consoleClient.close()
        guard let task = serving.withLock({ $0 }) else { return }
        task.cancel()
        await task.value
    }

    private func makeRouter() -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        // Sessions are kept in memory: a restart signs everyone out.
        router.add(middleware: SessionMiddleware(
            storage: MemoryPersistDriver(),
            configuration: .init(sessionCookieParameters: .init(name: "strom_session", path: "/", secure: false, sameSite: .strict))))
        router.add(middleware: ConsoleAccessMiddleware(access: access))
        router.get("/metrics") { [self] _, _ -> Response in
            broker.withLock { $0 }?.refreshGauges()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/health") { _, _ -> Response in
            // This answer runs on an event loop of the process-wide group the broker serves on
            // too; every loop of it must answer within two seconds.
            await Self.loopsAnswer(Array(MultiThreadedEventLoopGroup.singleton.makeIterator()), within: .seconds(2))
                ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, "an event loop does not answer\n")
        }
        router.get("/v1/cluster") { [self] _, _ -> Response in
            try json(self.broker.withLock { $0 }?.clusterView())
        }
        router.get("/v1/topics") { [self] _, _ -> Response in
            try json(self.broker.withLock { $0 }?.topicViews())
        }
        router.get("/v1/topics/:name") { [self] _, context -> Response in
            let name = try context.parameters.require("name")
            guard let broker = self.broker.withLock({ $0 }) else { return Self.text(.serviceUnavailable, "not ready\n") }
            guard let topic = broker.topicViews(named: name).first else { return Self.text(.notFound, "no topic \(name)\n") }
            return try json(topic)
        }
        router.get("/v1/groups") { [self] _, _ -> Response in
            try json(self.broker.withLock { $0 }?.groupLagViews())
        }
        router.get("/v1/alerts") { [self] _, _ -> Response in
            try json(self.alertsView())
        }
        router.post("/v1/alerts/reload") { [self] _, _ -> Response in
            guard let runtime = alerts.withLock({ $0 }) else { return Self.text(.notFound, "no alerts.file configured\n") }
            switch await runtime.reload() {
            case .success(let count): return Self.text(.ok, "reloaded \(count) rules\n")
            case .failure(let invalid): return Self.text(.badRequest, "\(invalid.description)\n")
            }
        }
        addConsoleRoutes(to: router)
        router.get("/ready") { [self] _, _ -> Response in
            broker.withLock { $0 } == nil ? Self.text(.serviceUnavailable, "not ready\n") : Self.text(.ok, "ready\n")
        }
        return router
    }

    /// The rules in force here and the alerts pending or firing.
    func alertsView() -> AlertsView {
        guard let runtime = alerts.withLock({ $0 }) else { return AlertsView(file: nil, rules: [], alerts: []) }
        let engine = runtime.engine
        return AlertsView(
            file: runtime.path, rules: engine.rules.map { AlertsView.Rule(name: $0.name, groups: $0.groups, topics: $0.topics, forMs: $0.forMs) },
            alerts: engine.alerts.map {
                AlertsView.Alert(
                    state: $0.isFiring ? "firing" : "pending", labels: $0.labels, annotations: $0.annotations,
                    activeSinceMs: $0.activeSinceMs, value: $0.value)
            },
            history: runtime.recentEvents.map {
                AlertsView.Event(status: $0.status.rawValue, labels: $0.labels, annotations: $0.annotations, startsAtMs: $0.startsAtMs, endsAtMs: $0.endsAtMs)
            })
    }

    static func html(_ document: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // The pages carry no script of their own but what is written here; nothing else may run.
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    /// Whether every loop runs a task within `limit` (a blocked loop never would: the timer,
    /// outside the loops, answers then).
    static func loopsAnswer(_ loops: [any EventLoop], within limit: Duration) async -> Bool {
        guard let first = loops.first else { return true }
        return await withCheckedContinuation { continuation in
            let resumed = Mutex(false)
            let finish: @Sendable (Bool) -> Void = { answer in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: answer) }
            }
            EventLoopFuture.andAllSucceed(loops.map { $0.submit {} }, on: first).whenComplete { finish((try? $0.get()) != nil) }
            // A Dispatch timer: neither on the loops nor on Swift's cooperative pool, either of
            // which may be what is stuck.
            let (seconds, attoseconds) = limit.components
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))) {
                finish(false)
            }
        }
    }

    /// `value` as JSON, or 503 while the broker is not ready (nothing to show yet).
    private func json(_ value: (some Encodable)?) throws -> Response {
        guard let value else { return Self.text(.serviceUnavailable, "not ready\n") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// 303 See Other: after a form the browser GETs `location` (post/redirect/get).
    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }
}


/// The admin listener stopped before it was listening (its address could not be bound).
struct AdminListenerStopped: Error, CustomStringConvertible {
    var address: String
    var description: String { "the admin listener could not listen on \(address)" }
}
