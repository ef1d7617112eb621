import CoreMetrics
import Foundation
import Logging
import StromBroker
import Synchronization
import UnixSignals

/// Runs the alert rules of `alerts.file` against the broker once a second: firing and resolved
/// events become a log line, the `strom_alerts` gauge and webhook messages. The file is read again
/// on SIGHUP and `POST /v1/alerts/reload`; a file that does not read keeps the rules in force.
final class AlertRuntime: Sendable {
    let path: String
    private let logger: Logger
    private let notifier: AlertNotifier
    private let factory: any MetricsFactory
    private let state: Mutex<(engine: AlertEngine, contents: AlertRulesFile.Contents)>
    private let gauges = Mutex<[String: Gauge]>([:])
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// The latest firing and resolved events, newest last (the console's history).
    private let history = Mutex<[AlertEvent]>([])
    static let historyMax = 200

    /// Reads the file: a broker whose rules do not read does not start.
    init(path: String, externalURL: String, factory: any MetricsFactory, logger: Logger) async throws(AlertRulesFile.Invalid) {
        let contents = try await AlertRulesFile.load(path: path)
        self.path = path
        self.logger = logger
        self.factory = factory
        self.notifier = AlertNotifier(externalURL: externalURL, logger: logger)
        self.state = Mutex((AlertEngine(rules: contents.rules), contents))
        logger.info("alerts: \(contents.rules.count) rules from \(path), \(contents.webhooks.count) webhooks")
    }

    var engine: AlertEngine { state.withLock { $0.engine } }

    /// The latest events, newest first.
    var recentEvents: [AlertEvent] { history.withLock { $0.reversed() } }

    /// Evaluates once a second until ``stop()``, and reloads on SIGHUP.
    func start(broker: Broker) {
        let evaluation = Task {
            while !Task.isCancelled {
                self.evaluate(broker.alertObservations(), nowMs: Int64(Date().timeIntervalSince1970 * 1_000))
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                if Task.isCancelled { break }
                _ = await self.reload()
            }
        }
        tasks.withLock { $0 += [evaluation, hangups] }
    }

    func stop() async {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        await notifier.shutdown()
    }

    func evaluate(_ observations: AlertObservations, nowMs: Int64) {
        let (events, contents, alerts) = state.withLock { state in
            let events = state.engine.evaluate(observations, nowMs: nowMs)
            return (events, state.contents, state.engine.alerts)
        }
        deliver(events, contents: contents, nowMs: nowMs)
        updateGauges(alerts)
    }

    /// Reads the file again; on failure the rules in force stay, and the reason is returned.
    func reload() async -> Result<Int, AlertRulesFile.Invalid> {
        let contents: AlertRulesFile.Contents
        do {
            contents = try await AlertRulesFile.load(path: path)
        } catch {
            logger.error("alerts: \(error.description); the rules in force stay")
            return .failure(error)
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1_000)
        let events = state.withLock { state in
            state.contents = contents
            return state.engine.reload(contents.rules, nowMs: nowMs)
        }
        deliver(events, contents: contents, nowMs: nowMs)
        logger.info("alerts: reloaded \(contents.rules.count) rules from \(path)")
        return .success(contents.rules.count)
    }

    private func deliver(_ events: [AlertEvent], contents: AlertRulesFile.Contents, nowMs: Int64) {
        history.withLock { history in
            history.append(contentsOf: events)
            if history.count > Self.historyMax { history.removeFirst(history.count - Self.historyMax) }
        }
        for event in events {
            let labels = event.labels.keys.sorted().map { "\($0)=\(event.labels[$0]!)" }.joined(separator: " ")
            let summary = event.annotations["summary"].map { ": \($0)" } ?? ""
            switch event.status {
            case .firing: logger.warning("alert firing \(labels)\(summary)")
            case .resolved: logger.info("alert resolved \(labels)\(summary)")
            }
            notifier.send(event, to: contents.webhooks, groupIntervalMs: contents.groupIntervalMs, nowMs: nowMs)
        }
    }

    /// `strom_alerts{alertname, alertstate}`: how many alerts of each rule are pending and firing
    /// (Prometheus's own ALERTS, counted).
    private func updateGauges(_ alerts: [AlertEngine.Alert]) {
        var counts: [String: Int] = [:]
        for rule in state.withLock({ $0.engine.rules }) {
            counts["\(rule.name)\u{1}pending"] = 0
            counts["\(rule.name)\u{1}firing"] = 0
        }
        for alert in alerts {
            counts["\(alert.labels["alertname"] ?? "")\u{1}\(alert.isFiring ? "firing" : "pending")", default: 0] += 1
        }
        let factory = self.factory
        gauges.withLock { gauges in
            for (key, gauge) in gauges where counts[key] == nil {
                gauge.destroy()
                gauges[key] = nil
            }
            for (key, count) in counts {
                let parts = key.split(separator: "\u{1}", omittingEmptySubsequences: false).map(String.init)
                let gauge = gauges[key] ?? Gauge(label: "strom_alerts", dimensions: [("alertname", parts[0]), ("alertstate", parts[1])], factory: factory)
                gauges[key] = gauge
                gauge.record(count)
            }
        }
    }
}
