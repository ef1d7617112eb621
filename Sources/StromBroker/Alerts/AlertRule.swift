/// One alert rule: what to watch (groups and topics by pattern), the condition, how long it must
/// hold before the alert fires (`for`), and the labels and annotations the alert carries, as in a
/// Prometheus alerting rule.
public struct AlertRule: Sendable, Equatable {
    public enum Condition: Sendable, Equatable {
        /// A group's oldest unread record on a partition is older than this.
        case timeLagOver(seconds: Double)
        /// A group has more than this many unread records on a partition.
        case lagOver(records: Int64)
        /// A group's partition status (Burrow's) is one of these; ERROR stands for STALL, STOP and REWIND.
        case status(Set<String>)
        /// A partition has fewer in-sync replicas than its `min.insync.replicas`.
        case partitionUnderMinInSync
        /// A partition has no leader.
        case partitionOffline
        /// A broker that holds replicas is not registered (its session ended).
        case brokerDown

        /// Whether the condition is about consumer groups (evaluated by their coordinator) or the
        /// cluster (evaluated by the controller).
        public var isAboutGroups: Bool {
            switch self {
            case .timeLagOver, .lagOver, .status: true
            case .partitionUnderMinInSync, .partitionOffline, .brokerDown: false
            }
        }
    }

    public var name: String
    /// Glob patterns (`*` and `?`) on the group id and the topic.
    public var groups: String
    public var topics: String
    public var condition: Condition
    public var forMs: Int64
    public var labels: [String: String]
    public var annotations: [String: String]

    public init(
        name: String, groups: String = "*", topics: String = "*", condition: Condition, forMs: Int64 = 0,
        labels: [String: String] = [:], annotations: [String: String] = [:]
    ) {
        self.name = name
        self.groups = groups
        self.topics = topics
        self.condition = condition
        self.forMs = forMs
        self.labels = labels
        self.annotations = annotations
    }

    public struct InvalidCondition: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "\(reason): \(text)" }
    }

    /// Reads a condition: `time_lag_seconds > S`, `lag > N`, `status in STOP,STALL,ERROR` (or
    /// `status == ERROR`), `partition_under_min_isr`, `partition_offline`, `broker_down`.
    public static func condition(_ text: String) throws(InvalidCondition) -> Condition {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        switch words.first {
        case "partition_under_min_isr" where words.count == 1: return .partitionUnderMinInSync
        case "partition_offline" where words.count == 1: return .partitionOffline
        case "broker_down" where words.count == 1: return .brokerDown
        case "time_lag_seconds":
            guard words.count == 3, words[1] == ">", let seconds = Double(words[2]), seconds >= 0 else {
                throw InvalidCondition(text: text, reason: "expected time_lag_seconds > SECONDS")
            }
            return .timeLagOver(seconds: seconds)
        case "lag":
            guard words.count == 3, words[1] == ">", let records = Int64(words[2]), records >= 0 else {
                throw InvalidCondition(text: text, reason: "expected lag > RECORDS")
            }
            return .lagOver(records: records)
        case "status":
            guard words.count == 3, ["in", "=="].contains(words[1]) else {
                throw InvalidCondition(text: text, reason: "expected status in STATUS,STATUS or status == STATUS")
            }
            let statuses = Set(words[2].split(separator: ",").map { $0.uppercased() })
            let known = Set(PartitionLagStatus.allCases.map(\.rawValue) + ["ERROR"])
            guard !statuses.isEmpty, statuses.isSubset(of: known) else {
                throw InvalidCondition(text: text, reason: "statuses are \(known.sorted().joined(separator: ", "))")
            }
            return .status(statuses)
        default:
            throw InvalidCondition(
                text: text,
                reason: "expected time_lag_seconds > S, lag > N, status in LIST, partition_under_min_isr, partition_offline or broker_down")
        }
    }

    /// Shell-style glob match: `*` any run of characters, `?` one.
    static func matches(_ pattern: String, _ value: String) -> Bool {
        let pattern = Array(pattern), value = Array(value)
        var (p, v, star, mark) = (0, 0, -1, 0)
        while v < value.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == value[v] {
                p += 1
                v += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                mark = v
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                v = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
