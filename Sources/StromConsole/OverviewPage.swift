public import StromBroker

/// `/`: the cluster at a glance — brokers, the controller, partition health, throughput over the
/// last hour, and the alerts firing on this broker.
public enum OverviewPage {
    public static func render(
        cluster: ClusterView, topics: [TopicView], alerts: [AlertsView.Alert], throughput: [ThroughputHistory.Rate]
    ) -> ConsolePage {
        let partitions = topics.flatMap { topic in topic.partitions.map { (topic, $0) } }
        var leaders: [Int32: Int] = [:]
        for (_, partition) in partitions where partition.leader >= 0 { leaders[partition.leader, default: 0] += 1 }
        let underReplicated = partitions.filter { $0.1.inSyncReplicas.count < $0.1.replicas.count }.count
        let offline = partitions.filter { $0.1.leader < 0 || $0.1.offlineReason != nil }.count
        let underMinInSync = partitions.filter { topic, partition in
            let minimum = Int(topic.configs["min.insync.replicas"] ?? "1") ?? 1
            return partition.inSyncReplicas.count < minimum
        }.count
        let registered = Set(cluster.brokers.map(\.nodeId))
        let down = Set(partitions.flatMap(\.1.replicas)).subtracting(registered).sorted()
        let firing = alerts.filter { $0.state == "firing" }

        var body = "<div class=\"cards\">"
        body += card("Brokers", "\(cluster.brokers.count)", down.isEmpty ? nil : ("bad", "\(down.count) down"))
        body += card("Controller", "\(cluster.controllerId)", nil)
        body += card("Topics", "\(topics.filter { !$0.isInternal }.count)", nil)
        let internalPartitions = partitions.filter { $0.0.isInternal }.count
        body += card("Partitions", "\(partitions.count)", internalPartitions > 0 ? ("muted", "\(internalPartitions) of internal topics") : nil)
        body += card("Under-replicated", "\(underReplicated)", underReplicated > 0 ? ("warn", "not all replicas in sync") : ("ok", "all in sync"))
        body += card("Under min ISR", "\(underMinInSync)", underMinInSync > 0 ? ("bad", "acks=all refused") : ("ok", "none"))
        body += card("Offline", "\(offline)", offline > 0 ? ("bad", "no leader") : ("ok", "none"))
        body += card("Alerts firing", "\(firing.count)", firing.isEmpty ? ("ok", "none") : ("bad", "see below"))
        body += "</div>"

        body += "<h2>Throughput, last hour</h2>"
        body += LineChart(
            series: [
                .init(name: "produced", colour: "#2457c5", points: throughput.map { ($0.timeMs, $0.bytesInPerSecond) }),
                .init(name: "consumed", colour: "#1a7f37", points: throughput.map { ($0.timeMs, $0.bytesOutPerSecond) }),
            ],
            unit: { Formatting.rate($0, unit: "B") }
        ).render(title: "Record bytes per second (this broker)")
        if let latest = throughput.last {
            body += "<p class=\"muted\">Last 10 s: \(Formatting.rate(latest.recordsInPerSecond, unit: "records")) in, "
                + "\(Formatting.rate(latest.bytesOutPerSecond, unit: "B")) out.</p>"
        }

        body += "<h2>Brokers</h2><div class=\"scroll\"><table><thead><tr><th>Node</th><th>Status</th><th>Address</th><th>Rack</th><th class=\"num\">Leaders</th></tr></thead><tbody>"
        for broker in cluster.brokers.sorted(by: { $0.nodeId < $1.nodeId }) {
            let role = broker.nodeId == cluster.controllerId ? " (controller)" : ""
            body += "<tr><td>\(broker.nodeId)\(role)</td><td class=\"ok\">alive</td><td>\(HTML.escape(broker.host)):\(broker.port)</td>"
                + "<td>\(HTML.escape(broker.rack ?? "–"))</td><td class=\"num\">\(leaders[broker.nodeId, default: 0])</td></tr>"
        }
        for node in down {
            body += "<tr><td>\(node)</td><td class=\"bad\">down</td><td class=\"muted\">–</td><td class=\"muted\">–</td><td class=\"num\">0</td></tr>"
        }
        body += "</tbody></table></div>"

        body += "<h2>Alerts firing here</h2>"
        if firing.isEmpty {
            body += "<p class=\"muted\">None.</p>"
        } else {
            body += "<div class=\"scroll\"><table><thead><tr><th>Alert</th><th>Subject</th><th>Summary</th></tr></thead><tbody>"
            for alert in firing {
                let subject = alert.labels.filter { $0.key != "alertname" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                body += "<tr><td class=\"bad\">\(HTML.escape(alert.labels["alertname"] ?? "–"))</td><td>\(HTML.escape(subject))</td>"
                    + "<td>\(HTML.escape(alert.annotations["summary"] ?? ""))</td></tr>"
            }
            body += "</tbody></table></div>"
        }
        return ConsolePage(title: "Overview", section: .overview, body: body, refreshSeconds: 10)
    }

    private static func card(_ label: String, _ value: String, _ note: (style: String, text: String)?) -> String {
        let noteHTML = note.map { "<div class=\"\($0.style)\">\(HTML.escape($0.text))</div>" } ?? ""
        return "<div class=\"card\"><div class=\"label\">\(HTML.escape(label))</div><div class=\"value\">\(HTML.escape(value))</div>\(noteHTML)</div>"
    }
}
