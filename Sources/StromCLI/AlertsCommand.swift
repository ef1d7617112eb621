import ArgumentParser
import Foundation
import StromBroker
import StromClient

/// `strom alerts …`: the alerts of the cluster's alert rules.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Show the alerts pending or firing on the cluster.", subcommands: [AlertsListCommand.self])
}

/// `strom alerts list`: every alert pending or firing now, gathered from every broker's admin
/// listener (group rules fire on the group's coordinator, cluster rules on the controller, so no
/// single broker has them all).
struct AlertsListCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the alerts pending or firing now, firing first.")

    @OptionGroup var connection: BootstrapOptions
    @OptionGroup var adminOptions: AdminOptions

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let listeners: [(broker: String, address: String)]
        if let given = try adminOptions.givenAddresses() {
            listeners = given.map { ($0, $0) }
        } else {
            listeners = try await AdminListeners.discover(client: client).sorted { $0.key < $1.key }.map { (String($0.key), $0.value) }
        }
        guard !listeners.isEmpty else { throw ValidationError("no broker has an admin listener (admin.listen is empty on every broker)") }
        var rows: [(broker: String, alert: AlertsView.Alert)] = []
        var answered = 0
        var rulesFiles = 0
        for listener in listeners {
            do {
                let view = try await AdminListeners.get(AlertsView.self, path: "/v1/alerts", from: listener.address)
                answered += 1
                if view.file != nil { rulesFiles += 1 }
                rows += view.alerts.map { (listener.broker, $0) }
            } catch {
                output.writeError("strom: broker \(listener.broker): \(error)\n")
            }
        }
        guard answered > 0 else { throw ValidationError("no admin listener answered") }
        if rows.isEmpty {
            output.write(rulesFiles == 0 ? "No alert rules (alerts.file) on any broker.\n" : "No alerts pending or firing.\n")
            return
        }
        let nowMs = Int64(Date().timeIntervalSince1970 * 1_000)
        rows.sort { left, right in
            if (left.alert.state == "firing") != (right.alert.state == "firing") { return left.alert.state == "firing" }
            return Self.subject(left.alert) < Self.subject(right.alert)
        }
        var table = TextTable(header: ["ALERT", "STATE", "FOR", "VALUE", "BROKER", "LABELS", "SUMMARY"])
        for (broker, alert) in rows {
            table.append([
                alert.labels["alertname"] ?? "-", alert.state, Self.duration(ms: nowMs - alert.activeSinceMs), AlertsView.formatted(alert.value), broker,
                Self.subject(alert), alert.annotations["summary"] ?? "-",
            ])
        }
        output.write(table.text)
    }

    /// The labels but the alert's name, as `key=value` sorted by key, comma-joined.
    static func subject(_ alert: AlertsView.Alert) -> String {
        let subject = AlertsView.subject(of: alert.labels, separator: ",")
        return subject.isEmpty ? "-" : subject
    }

    static func duration(ms: Int64) -> String {
        let seconds = max(0, ms) / 1_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3_600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3_600)h\(seconds % 3_600 / 60)m"
    }
}
