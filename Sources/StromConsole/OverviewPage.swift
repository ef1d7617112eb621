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
        let underReplicated = partitions.filter(\.1.isUnderReplicated).count
        let offline = partitions.filter(\.1.isOffline).count
        let underMinInSync = partitions.filter { topic, partition in
            let minimum = Int(topic.configs["min.insync.replicas"] ?? "1") ?? 1
            return partition.inSyncReplicas.count < minimum
        }.count
        let registered = Set(cluster.brokers.map(\.nodeId))
        let down = Set(partitions.flatMap(\.1.replicas)).subtracting(registered).sorted()
        let firing = alerts.filter { $0.state == "firing" }

        var body = "<div class=\"cards\">"
        body += HTML.card("Brokers", "\(cluster.brokers.count)", note: down.isEmpty ? nil : ("bad", "\(down.count) down"))
        body += HTML.card("Controller", "\(cluster.controllerId)")
        body += HTML.card("Topics", "\(topics.filter { !$0.isInternal }.count)")
        let internalPartitions = partitions.filter { $0.0.isInternal }.count
        body += HTML.card("Partitions", "\(partitions.count)", note: internalPartitions > 0 ? ("muted", "\(internalPartitions) of internal topics") : nil)
        body += HTML.card("Under-replicated", "\(underReplicated)", note: underReplicated > 0 ? ("warn", "not all replicas in sync") : ("ok", "all in sync"))
        body += HTML.card("Under min ISR", "\(underMinInSync)", note: underMinInSync > 0 ? ("bad", "acks=all refused") : ("ok", "none"))
        body += HTML.card("Offline", "\(offline)", note: offline > 0 ? ("bad", "no leader") : ("ok", "none"))
        body += HTML.card("Alerts firing", "\(firing.count)", note: firing.isEmpty ? ("ok", "none") : ("bad", "see below"))
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
                let subject = AlertsPage.subject(alert.labels)
                body += "<tr><td class=\"bad\">\(HTML.escape(alert.labels["alertname"] ?? "–"))</td><td>\(HTML.escape(subject))</td>"
                    + "<td>\(HTML.escape(alert.annotations["summary"] ?? ""))</td></tr>"
            }
            body += "</tbody></table></div>"
        }
        return ConsolePage(title: "Overview", section: .overview, body: body, refreshSeconds: 10)
    }
}
