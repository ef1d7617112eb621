public import StromBroker

/// A consumer or share group as the groups list shows it.
public struct GroupSummary: Sendable, Equatable {
    public var groupId: String
    /// "classic", "consumer" (KIP-848) or "share".
    public var type: String
    public var state: String
    /// Its lag in records and Burrow status, when this broker coordinates it.
    public var lag: Int64?
    public var status: String?

    public init(groupId: String, type: String, state: String, lag: Int64? = nil, status: String? = nil) {
        self.groupId = groupId
        self.type = type
        self.state = state
        self.lag = lag
        self.status = status
    }
}

/// One group in full: members and assignments, each partition's offsets and lag, its lag over time.
public struct GroupDetail: Sendable {
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var clientId: String
        public var host: String
        public var assignment: [String: [Int32]]

        public init(memberId: String, clientId: String, host: String, assignment: [String: [Int32]]) {
            self.memberId = memberId
            self.clientId = clientId
            self.host = host
            self.assignment = assignment
        }
    }

    public struct Partition: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        /// The committed offset (a share group: its share-partition's start offset).
        public var committed: Int64?
        public var logEndOffset: Int64?
        public var lag: Int64?
        public var timeLagSeconds: Double?
        public var status: String?

        public init(topic: String, partition: Int32, committed: Int64?, logEndOffset: Int64?, lag: Int64?, timeLagSeconds: Double? = nil, status: String? = nil) {
            self.topic = topic
            self.partition = partition
            self.committed = committed
            self.logEndOffset = logEndOffset
            self.lag = lag
            self.timeLagSeconds = timeLagSeconds
            self.status = status
        }
    }

    public var groupId: String
    public var type: String
    public var state: String
    public var assignor: String
    public var members: [Member]
    public var partitions: [Partition]
    /// Burrow's status for the group, when this broker coordinates it (it evaluates the lag).
    public var status: String?
    public var history: [GroupLagHistory.Point]
    public var coordinatorId: Int32
    /// Where the coordinator's console is, when another broker coordinates the group.
    public var coordinatorConsole: String?

    public init(
        groupId: String, type: String, state: String, assignor: String, members: [Member], partitions: [Partition], status: String?,
        history: [GroupLagHistory.Point], coordinatorId: Int32, coordinatorConsole: String?
    ) {
        self.groupId = groupId
        self.type = type
        self.state = state
        self.assignor = assignor
        self.members = members
        self.partitions = partitions
        self.status = status
        self.history = history
        self.coordinatorId = coordinatorId
        self.coordinatorConsole = coordinatorConsole
    }
}

/// `/groups` and `/groups/ID`: consumer groups (classic and KIP-848) and share groups, their
/// members, offsets, lag in records and seconds with Burrow's status, a lag chart, and a reset of
/// the committed offsets that shows its plan before it changes anything.
public enum GroupsPage {
    public static func renderList(groups: [GroupSummary], nodeId: Int32) -> ConsolePage {
        var body = "<div class=\"scroll\"><table><thead><tr><th>Group</th><th>Type</th><th>State</th><th class=\"num\">Lag</th><th>Status</th></tr></thead><tbody>"
        for group in groups.sorted(by: { $0.groupId < $1.groupId }) {
            body += "<tr><td><a href=\"/groups/\(HTML.pathSegment(group.groupId))\">\(HTML.escape(group.groupId))</a></td>"
                + "<td>\(HTML.escape(group.type))</td><td>\(HTML.escape(group.state))</td>"
                + "<td class=\"num\">\(group.lag.map(String.init) ?? "–")</td><td>\(statusHTML(group.status))</td></tr>"
        }
        if groups.isEmpty { body += "<tr><td colspan=\"5\" class=\"muted\">No groups yet.</td></tr>" }
        body += "</tbody></table></div>"
        body += "<p class=\"muted\">Lag and status show for the groups broker \(nodeId) coordinates; a group's page shows the rest.</p>"
        return ConsolePage(title: "Groups", section: .groups, body: body, refreshSeconds: 10)
    }

    /// Partitions shown a page at a time (a group may read thousands).
    public static let pageSize = 100

    public static func renderGroup(_ group: GroupDetail, page: Int = 1, viewer: ConsoleViewer) -> ConsolePage {
        let totalLag = group.partitions.compactMap(\.lag).reduce(0, +)
        var body = "<p><a href=\"/groups\">← Groups</a></p><div class=\"cards\">"
        body += HTML.card("Type", group.type)
        body += HTML.card("State", group.state)
        body += HTML.card("Members", "\(group.members.count)")
        body += HTML.card("Lag", "\(totalLag)", note: ("muted", "records"))
        let worst = group.partitions.compactMap(\.timeLagSeconds).max()
        body += HTML.card("Time lag", Formatting.duration(worst), note: ("muted", "worst partition"))
        body += "<div class=\"card\"><div class=\"label\">Status</div><div class=\"value\">\(statusHTML(group.status))</div></div>"
        body += HTML.card("Coordinator", "\(group.coordinatorId)")
        body += "</div>"
        if let console = group.coordinatorConsole {
            body += "<p class=\"muted\">Broker \(group.coordinatorId) coordinates this group and evaluates its lag: its time lag, status and "
                + (console.isEmpty ? "history are on its console (its admin listener is off).</p>"
                    : "history are on <a href=\"\(HTML.escape(console))\">its console</a>.</p>")
        } else {
            body += "<h2>Lag, last hour</h2>"
            body += LineChart(
                series: [.init(name: "lag (records)", colour: "#cf222e", points: group.history.map { ($0.timeMs, Double($0.lag)) })],
                unit: { String(Int($0)) }
            ).render(title: "Records behind the high watermark, all partitions")
        }

        body += "<h2>Partitions</h2><div class=\"scroll\"><table><thead><tr><th>Topic</th><th class=\"num\">Partition</th>"
            + "<th class=\"num\">\(group.type == "share" ? "Start offset" : "Committed")</th><th class=\"num\">End offset</th>"
            + "<th class=\"num\">Lag</th><th class=\"num\">Time lag</th><th>Status</th><th>Member</th></tr></thead><tbody>"
        var owners: [String: String] = [:]
        for member in group.members {
            for (topic, partitions) in member.assignment {
                for partition in partitions { owners["\(topic)/\(partition)"] = member.clientId.isEmpty ? member.memberId : member.clientId }
            }
        }
        let (shown, pager) = HTML.paged(
            group.partitions.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) }), page: page, pageSize: pageSize,
            noun: "partitions", link: { "/groups/\(HTML.pathSegment(group.groupId))?page=\($0)" })
        for partition in shown {
            body += "<tr><td><a href=\"/topics/\(HTML.pathSegment(partition.topic))\">\(HTML.escape(partition.topic))</a></td>"
                + "<td class=\"num\">\(partition.partition)</td><td class=\"num\">\(Formatting.count(partition.committed))</td>"
                + "<td class=\"num\">\(Formatting.count(partition.logEndOffset))</td><td class=\"num lag\">\(Formatting.count(partition.lag))</td>"
                + "<td class=\"num\">\(Formatting.duration(partition.timeLagSeconds))</td><td>\(statusHTML(partition.status))</td>"
                + "<td>\(HTML.escape(owners["\(partition.topic)/\(partition.partition)"] ?? "–"))</td></tr>"
        }
        if group.partitions.isEmpty { body += "<tr><td colspan=\"8\" class=\"muted\">No committed offsets yet.</td></tr>" }
        body += "</tbody></table></div>" + pager

        body += "<h2>Members</h2><div class=\"scroll\"><table><thead><tr><th>Member</th><th>Client</th><th>Host</th><th>Assignment</th></tr></thead><tbody>"
        for member in group.members.sorted(by: { $0.memberId < $1.memberId }) {
            let assignment = member.assignment.sorted { $0.key < $1.key }
                .map { "\(HTML.escape($0.key)): \($0.value.map(String.init).joined(separator: ", "))" }.joined(separator: "<br>")
            body += "<tr><td>\(HTML.escape(member.memberId))</td><td>\(HTML.escape(member.clientId))</td><td>\(HTML.escape(member.host))</td>"
                + "<td>\(assignment.isEmpty ? "–" : assignment)</td></tr>"
        }
        if group.members.isEmpty { body += "<tr><td colspan=\"4\" class=\"muted\">No active members.</td></tr>" }
        body += "</tbody></table></div>"

        let topics = Set(group.partitions.map(\.topic)).sorted()
        if group.type != "share", !topics.isEmpty {
            let form = viewer.changeForm(
                action: "/groups/\(HTML.pathSegment(group.groupId))/reset", submit: "Preview (dry run)",
                fields: "<label>Topic <select name=\"topic\">" + topics.map { "<option>\(HTML.escape($0))</option>" }.joined() + "</select></label>"
                    + "<label>To <select name=\"to\"><option value=\"earliest\">the earliest offset</option><option value=\"latest\">the latest offset</option>"
                    + "<option value=\"offset\">an offset</option><option value=\"shift\">shifted by (records)</option>"
                    + "<option value=\"time\">a time (UTC)</option></select></label>"
                    + HTML.field("Offset or shift", name: "value", type: "number")
                    + HTML.field("Time (UTC)", name: "time", type: "datetime-local", extra: "step=\"1\""))
            if !form.isEmpty {
                body += "<h2>Reset offsets</h2><p class=\"muted\">Only while the group has no active members, as with Kafka's tool. "
                    + "The preview changes nothing.</p>" + form
            }
        }
        return ConsolePage(title: "Group \(group.groupId)", section: .groups, body: body, refreshSeconds: 10)
    }

    /// The dry run's plan, and the form that applies exactly it.
    public static func renderResetPlan(
        groupId: String, topic: String, plan: [(partition: Int32, current: Int64?, planned: Int64)], viewer: ConsoleViewer
    ) -> ConsolePage {
        var body = "<p><a href=\"/groups/\(HTML.pathSegment(groupId))\">← Group \(HTML.escape(groupId))</a></p>"
        body += "<p>Dry run: nothing has changed yet.</p>"
        body += "<div class=\"scroll\"><table><thead><tr><th>Topic</th><th class=\"num\">Partition</th><th class=\"num\">Committed now</th>"
            + "<th class=\"num\">New offset</th></tr></thead><tbody>"
        for entry in plan {
            body += "<tr><td>\(HTML.escape(topic))</td><td class=\"num\">\(entry.partition)</td><td class=\"num\">\(Formatting.count(entry.current))</td>"
                + "<td class=\"num\">\(entry.planned)</td></tr>"
        }
        body += "</tbody></table></div>"
        let offsets = plan.map { "\($0.partition):\($0.planned)" }.joined(separator: ",")
        body += viewer.changeForm(
            action: "/groups/\(HTML.pathSegment(groupId))/reset", submit: "Apply these offsets", danger: true,
            fields: "<input type=\"hidden\" name=\"topic\" value=\"\(HTML.escape(topic))\">"
                + "<input type=\"hidden\" name=\"apply\" value=\"\(HTML.escape(offsets))\">")
        return ConsolePage(title: "Reset offsets · \(groupId)", section: .groups, body: body)
    }

    static func statusHTML(_ status: String?) -> String {
        guard let status else { return "<span class=\"muted\">–</span>" }
        let style = switch status {
        case "OK": "ok"
        case "WARNING": "warn"
        default: "bad"
        }
        return "<span class=\"\(style)\">\(HTML.escape(status))</span>"
    }
}
