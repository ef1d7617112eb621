import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import StromBroker
import Synchronization

/// Sends alert events to webhooks in Prometheus Alertmanager's webhook format (version 4), so that
/// Alertmanager, Slack relays and PagerDuty bridges take them unchanged. One alert per message,
/// grouped by its name. Each message is sent on its own task, retried with backoff, so evaluation
/// never waits; the same alert with the same status goes out at most once per group interval.
final class AlertNotifier: Sendable {
    private let client: HTTPClient
    private let logger: Logger
    private let externalURL: String
    private let lastSent = Mutex<[String: Int64]>([:])
    static let attemptsMax = 6

    init(externalURL: String, logger: Logger) {
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        self.externalURL = externalURL
        self.logger = logger
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    func send(_ event: AlertEvent, to webhooks: [String], groupIntervalMs: Int64, nowMs: Int64) {
        guard !webhooks.isEmpty else { return }
        let fingerprint = Self.fingerprint(event.labels)
        let due = lastSent.withLock { sent in
            let key = "\(fingerprint)/\(event.status.rawValue)"
            if let last = sent[key], nowMs - last < groupIntervalMs { return false }
            sent[key] = nowMs
            return true
        }
        guard due else { return }
        let body: Data
        do {
            body = try JSONEncoder().encode(Message(event: event, fingerprint: fingerprint, externalURL: externalURL))
        } catch {
            logger.error("alert \(event.labels["alertname"] ?? "") could not be encoded: \(error)")
            return
        }
        for webhook in webhooks {
            Task { await self.post(body, to: webhook, alert: event.labels["alertname"] ?? "") }
        }
    }

    private func post(_ body: Data, to url: String, alert: String) async {
        var delay = Duration.milliseconds(500)
        for attempt in 1...Self.attemptsMax {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
                let response = try await client.execute(request, timeout: .seconds(10))
                if (200..<300).contains(response.status.code) { return }
                logger.warning("webhook \(url) answered \(response.status.code) for alert \(alert) (attempt \(attempt))")
            } catch {
                logger.warning("webhook \(url) failed for alert \(alert) (attempt \(attempt)): \(error)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
        logger.error("webhook \(url): alert \(alert) not delivered after \(Self.attemptsMax) attempts")
    }

    /// Alertmanager's fingerprint is a hash of the label set; any stable one serves receivers.
    static func fingerprint(_ labels: [String: String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in labels.keys.sorted().map({ "\($0)=\(labels[$0]!)\u{1}" }).joined().utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// The webhook body (Alertmanager's `notify/webhook` message, version 4).
    struct Message: Encodable {
        struct Alert: Encodable {
            var status: String
            var labels: [String: String]
            var annotations: [String: String]
            var startsAt: String
            var endsAt: String
            var generatorURL: String
            var fingerprint: String
        }

        var version = "4"
        var groupKey: String
        var truncatedAlerts = 0
        var status: String
        var receiver = "strom"
        var groupLabels: [String: String]
        var commonLabels: [String: String]
        var commonAnnotations: [String: String]
        var externalURL: String
        var alerts: [Alert]

        init(event: AlertEvent, fingerprint: String, externalURL: String) {
            let name = event.labels["alertname"] ?? ""
            groupKey = "{}:{alertname=\"\(name)\"}"
            status = event.status.rawValue
            groupLabels = ["alertname": name]
            commonLabels = event.labels
            commonAnnotations = event.annotations
            self.externalURL = externalURL
            alerts = [Alert(
                status: event.status.rawValue, labels: event.labels, annotations: event.annotations,
                startsAt: Self.time(event.startsAtMs), endsAt: event.endsAtMs.map(Self.time) ?? "0001-01-01T00:00:00Z",
                generatorURL: "\(externalURL)/v1/alerts", fingerprint: fingerprint)]
        }

        static func time(_ ms: Int64) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1_000))
        }
    }
}
