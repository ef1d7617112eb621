public import StromBroker

/// `/alerts`: the rules in force on this broker, the alerts pending or firing here now, and the
/// latest firing and resolved events. Group rules fire on a group's coordinator and cluster rules
/// on the controller, so each broker shows its own (`strom alerts list` gathers them all).
public enum AlertsPage {
    public static func render(alerts: AlertsView, nowMs: Int64) -> ConsolePage {
        var body = ""
        guard let file = alerts.file else {
            body += "<p class=\"muted\">No alert rules: start the broker with <code>--alerts-file</code> (<code>alerts.file</code>).</p>"
            return ConsolePage(title: "Alerts", section: .alerts, body: body, refreshSeconds: 10)
        }
        body += "<h2>Now</h2>"
        let current = alerts.alerts.sorted { ($0.state == "firing" ? 0 : 1, subject($0.labels)) < ($1.state == "firing" ? 0 : 1, subject($1.labels)) }
        if current.isEmpty {
            body += "<p class=\"ok\">Nothing pending or firing on this broker.</p>"
        } else {
            body += "<div class=\"scroll\"><table><thead><tr><th>Alert</th><th>State</th><th>For</th><th class=\"num\">Value</th><th>Subject</th><th>Summary</th></tr></thead><tbody>"
            for alert in current {
                let style = alert.state == "firing" ? "bad" : "warn"
                body += "<tr><td>\(HTML.escape(alert.labels["alertname"] ?? "–"))</td><td class=\"\(style)\">\(HTML.escape(alert.state))</td>"
                    + "<td>\(duration(nowMs - alert.activeSinceMs))</td><td class=\"num\">\(AlertsView.formatted(alert.value))</td>"
                    + "<td>\(HTML.escape(subject(alert.labels)))</td><td>\(HTML.escape(alert.annotations["summary"] ?? ""))</td></tr>"
            }
            body += "</tbody></table></div>"
        }

        body += "<h2>Recent events</h2>"
        let history = alerts.history ?? []
        if history.isEmpty {
            body += "<p class=\"muted\">No alert has fired since this broker started.</p>"
        } else {
            body += "<div class=\"scroll\"><table><thead><tr><th>When</th><th>Event</th><th>Alert</th><th>Subject</th><th>Summary</th></tr></thead><tbody>"
            for event in history {
                let when = event.status == "resolved" ? (event.endsAtMs ?? event.startsAtMs) : event.startsAtMs
                let style = event.status == "firing" ? "bad" : "ok"
                body += "<tr><td>\(duration(nowMs - when)) ago</td><td class=\"\(style)\">\(HTML.escape(event.status))</td>"
                    + "<td>\(HTML.escape(event.labels["alertname"] ?? "–"))</td><td>\(HTML.escape(subject(event.labels)))</td>"
                    + "<td>\(HTML.escape(event.annotations["summary"] ?? ""))</td></tr>"
            }
            body += "</tbody></table></div>"
        }

        body += "<h2>Rules</h2><p class=\"muted\">From \(HTML.escape(file)); <code>kill -HUP</code> or <code>POST /v1/alerts/reload</code> reads it again.</p>"
        body += "<div class=\"scroll\"><table><thead><tr><th>Rule</th><th>Groups</th><th>Topics</th><th>For</th></tr></thead><tbody>"
        for rule in alerts.rules {
            body += "<tr><td>\(HTML.escape(rule.name))</td><td>\(HTML.escape(rule.groups))</td><td>\(HTML.escape(rule.topics))</td><td>\(duration(rule.forMs))</td></tr>"
        }
        body += "</tbody></table></div>"
        return ConsolePage(title: "Alerts", section: .alerts, body: body, refreshSeconds: 10)
    }

    static func subject(_ labels: [String: String]) -> String {
        AlertsView.subject(of: labels, separator: " ")
    }

    static func duration(_ ms: Int64) -> String {
        let seconds = max(0, ms) / 1_000
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3_600 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds / 3_600) h \(seconds % 3_600 / 60) min"
    }
}
