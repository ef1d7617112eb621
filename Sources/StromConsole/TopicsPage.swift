public import StromBroker

/// `/topics`: every topic with its partitions, replication factor, size and records, filtered by
/// a part of the name and shown a page at a time (a cluster may have thousands).
public enum TopicsPage {
    public static let pageSize = 50

    /// - Parameters: filter: a part of the name to keep (case-insensitive); page: from 1;
    ///   recordsPerSecond: by topic, over the latest interval (``TopicRates``).
    public static func render(
        topics: [TopicView], filter: String, page: Int, showInternal: Bool, recordsPerSecond: [String: Double] = [:],
        viewer: ConsoleViewer
    ) -> ConsolePage {
        let needle = filter.lowercased()
        let kept = topics
            .filter { (showInternal || !$0.isInternal) && (needle.isEmpty || $0.name.lowercased().contains(needle)) }
            .sorted { $0.name < $1.name }
        let pages = max(1, (kept.count + pageSize - 1) / pageSize)
        let current = min(max(1, page), pages)
        let shown = kept.dropFirst((current - 1) * pageSize).prefix(pageSize)

        var body = "<form class=\"filter\" method=\"get\" action=\"/topics\">"
        body += "<input type=\"search\" name=\"q\" value=\"\(HTML.escape(filter))\" placeholder=\"Filter by name\" aria-label=\"Filter by name\">"
        if showInternal { body += "<input type=\"hidden\" name=\"internal\" value=\"1\">" }
        body += "<button type=\"submit\">Filter</button></form>"
        body += "<div class=\"scroll\"><table><thead><tr><th>Topic</th><th class=\"num\">Partitions</th><th class=\"num\">Replication</th>"
            + "<th class=\"num\">Size</th><th class=\"num\">Records</th><th class=\"num\">Records/s</th><th>Health</th></tr></thead><tbody>"
        for topic in shown {
            let offline = topic.offlineCount, under = topic.underReplicatedCount
            let health = offline > 0 ? "<span class=\"bad\">\(offline) offline</span>"
                : under > 0 ? "<span class=\"warn\">\(under) under-replicated</span>" : "<span class=\"ok\">healthy</span>"
            let internalMark = topic.isInternal ? " <span class=\"muted\">(internal)</span>" : ""
            body += "<tr><td><a href=\"/topics/\(HTML.pathSegment(topic.name))\">\(HTML.escape(topic.name))</a>\(internalMark)</td><td class=\"num\">\(topic.partitions.count)</td><td class=\"num\">\(topic.replicationFactor)</td>"
                + "<td class=\"num\">\(Formatting.bytes(topic.sizeBytes))</td><td class=\"num\">\(topic.records)</td>"
                + "<td class=\"num\">\(recordsPerSecond[topic.name].map { Formatting.rate($0, unit: "") } ?? "–")</td><td>\(health)</td></tr>"
        }
        if shown.isEmpty {
            body += "<tr><td colspan=\"7\" class=\"muted\">\(filter.isEmpty ? "No topics yet." : "No topic matches “\(HTML.escape(filter))”.")</td></tr>"
        }
        body += "</tbody></table></div>"
        func link(_ page: Int) -> String {
            var query = "page=\(page)"
            if !filter.isEmpty { query += "&amp;q=\(HTML.queryValue(filter))" }
            if showInternal { query += "&amp;internal=1" }
            return "/topics?\(query)"
        }
        body += "<div class=\"pager\">"
        if current > 1 { body += "<a href=\"\(link(current - 1))\" rel=\"prev\">← Previous</a>" }
        body += "<span>\(kept.count) topic\(kept.count == 1 ? "" : "s") · page \(current) of \(pages)</span>"
        if current < pages { body += "<a href=\"\(link(current + 1))\" rel=\"next\">Next →</a>" }
        body += showInternal
            ? "<a href=\"/topics\">Hide internal topics</a>" : "<a href=\"/topics?internal=1\">Show internal topics</a>"
        body += "</div>"
        let createForm = viewer.changeForm(
            action: "/topics", submit: "Create topic",
            fields: HTML.field("Name", name: "name", required: true, extra: "pattern=\"[a-zA-Z0-9._\\-]{1,249}\"")
                + HTML.field("Partitions", name: "partitions", type: "number", extra: "min=\"1\" placeholder=\"default\"")
                + HTML.field("Replication factor", name: "replication", type: "number", extra: "min=\"1\" placeholder=\"default\""))
        if !createForm.isEmpty { body += "<h2>Create a topic</h2>" + createForm }
        return ConsolePage(title: "Topics", section: .topics, body: body, refreshSeconds: 30)
    }
}
