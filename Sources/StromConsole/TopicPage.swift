public import StromBroker

/// `/topics/NAME`: one topic's partitions (leader, replicas, in-sync replicas, log start and end
/// offsets, size) and every config with where its value comes from.
public enum TopicPage {
    public static func render(topic: TopicView, configs: [TopicConfigView]) -> ConsolePage {
        let offline = topic.offlineCount, under = topic.underReplicatedCount
        var body = "<p><a href=\"/topics\">← Topics</a></p><div class=\"cards\">"
        body += HTML.card("Partitions", "\(topic.partitions.count)")
        body += HTML.card("Replication", "\(topic.replicationFactor)")
        body += HTML.card("Size", Formatting.bytes(topic.sizeBytes))
        body += HTML.card("Records", "\(topic.records)")
        body += HTML.card("Under-replicated", "\(under)", valueStyle: under > 0 ? "warn" : "ok")
        body += HTML.card("Offline", "\(offline)", valueStyle: offline > 0 ? "bad" : "ok")
        body += "</div>"

        body += "<h2>Partitions</h2><div class=\"scroll\"><table><thead><tr><th class=\"num\">Partition</th><th class=\"num\">Leader</th>"
            + "<th>Replicas</th><th>In sync</th><th class=\"num\">Start offset</th><th class=\"num\">End offset</th>"
            + "<th class=\"num\">High watermark</th><th class=\"num\">Size</th><th>State</th></tr></thead><tbody>"
        for partition in topic.partitions.sorted(by: { $0.partition < $1.partition }) {
            let state: String = if let reason = partition.offlineReason {
                "<span class=\"bad\">offline: \(HTML.escape(reason))</span>"
            } else if partition.leader < 0 {
                "<span class=\"bad\">no leader</span>"
            } else if partition.isUnderReplicated {
                "<span class=\"warn\">under-replicated</span>"
            } else {
                "<span class=\"ok\">in sync</span>"
            }
            let leader = partition.leader < 0 ? "–" : "\(partition.leader)"
            body += "<tr><td class=\"num\">\(partition.partition)</td><td class=\"num\">\(leader)</td>"
                + "<td>\(partition.replicas.map(String.init).joined(separator: ", "))</td>"
                + "<td>\(partition.inSyncReplicas.map(String.init).joined(separator: ", "))</td>"
                + "<td class=\"num\">\(Formatting.count(partition.logStartOffset))</td><td class=\"num\">\(Formatting.count(partition.logEndOffset))</td>"
                + "<td class=\"num\">\(Formatting.count(partition.highWatermark))</td><td class=\"num\">\(Formatting.bytes(partition.sizeBytes))</td>"
                + "<td>\(state)</td></tr>"
        }
        body += "</tbody></table></div>"
        if topic.partitions.contains(where: { $0.logEndOffset == nil }) {
            body += "<p class=\"muted\">Offsets and sizes show for the partitions this broker holds a replica of.</p>"
        }

        body += "<h2>Configs</h2><div class=\"scroll\"><table><thead><tr><th>Name</th><th>Value</th><th>Source</th></tr></thead><tbody>"
        // The topic's own settings first, then the rest by name.
        let ordered = configs.filter { $0.source == "DYNAMIC_TOPIC_CONFIG" }.sorted { $0.name < $1.name }
            + configs.filter { $0.source != "DYNAMIC_TOPIC_CONFIG" }.sorted { $0.name < $1.name }
        for config in ordered {
            let style = config.source == "DYNAMIC_TOPIC_CONFIG" ? "" : " class=\"muted\""
            body += "<tr><td>\(HTML.escape(config.name))</td><td>\(HTML.escape(config.value))</td><td\(style)>\(HTML.escape(config.source))</td></tr>"
        }
        body += "</tbody></table></div>"
        return ConsolePage(title: topic.name, section: .topics, body: body, refreshSeconds: 30)
    }
}
