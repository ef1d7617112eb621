public import StromBroker

/// `/topics/NAME`: one topic's partitions (leader, replicas, in-sync replicas, log start and end
/// offsets, size) and every config with where its value comes from.
public enum TopicPage {
    /// Partitions shown a page at a time (a topic may have thousands).
    public static let pageSize = 100

    public static func render(topic: TopicView, configs: [TopicConfigView], page: Int = 1, viewer: ConsoleViewer) -> ConsolePage {
        let offline = topic.offlineCount, under = topic.underReplicatedCount
        let path = "/topics/\(HTML.pathSegment(topic.name))"
        var body = "<p class=\"pager\"><a href=\"/topics\">← Topics</a><a href=\"/messages?topic=\(HTML.queryValue(topic.name))\">Messages →</a></p><div class=\"cards\">"
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
        let (shown, pager) = HTML.paged(
            topic.partitions.sorted(by: { $0.partition < $1.partition }), page: page, pageSize: pageSize, noun: "partitions",
            link: { "\(path)?page=\($0)" })
        for partition in shown {
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
        body += "</tbody></table></div>" + pager
        if topic.partitions.contains(where: { $0.logEndOffset == nil }) {
            body += "<p class=\"muted\">Offsets and sizes show for the partitions this broker holds a replica of.</p>"
        }

        if viewer.canChange {
            body += "<h2>Change</h2>"
            body += viewer.changeForm(
                action: "\(path)/partitions", submit: "Add partitions",
                fields: HTML.field("Partitions in all", name: "count", type: "number", value: "\(topic.partitions.count + 1)", required: true,
                                   extra: "min=\"\(topic.partitions.count + 1)\""))
            body += viewer.changeForm(
                action: "\(path)/configs", submit: "Set config",
                fields: HTML.field("Config", name: "name", required: true, extra: "list=\"config-names\"")
                    + HTML.field("Value (empty: back to the default)", name: "value"))
            body += "<datalist id=\"config-names\">" + configs.map { "<option value=\"\(HTML.escape($0.name))\">" }.joined() + "</datalist>"
            body += viewer.changeForm(
                action: "\(path)/delete", submit: "Delete topic", danger: true,
                fields: HTML.field("Type the topic's name to delete it and all its records", name: "confirm", required: true,
                                   extra: "autocomplete=\"off\""))
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
