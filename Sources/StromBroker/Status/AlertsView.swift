/// `/v1/alerts`: the rules in force on a broker and the alerts pending or firing there (group
/// rules on a group's coordinator, cluster rules on the controller). `strom alerts list` reads it.
public struct AlertsView: Sendable, Codable, Equatable {
    public struct Rule: Sendable, Codable, Equatable {
        public var name: String
        public var groups: String
        public var topics: String
        public var forMs: Int64

        public init(name: String, groups: String, topics: String, forMs: Int64) {
            self.name = name
            self.groups = groups
            self.topics = topics
            self.forMs = forMs
        }
    }

    public struct Alert: Sendable, Codable, Equatable {
        /// "pending" (the condition holds, not yet for the rule's `for`) or "firing".
        public var state: String
        public var labels: [String: String]
        public var annotations: [String: String]
        public var activeSinceMs: Int64
        public var value: Double

        public init(state: String, labels: [String: String], annotations: [String: String], activeSinceMs: Int64, value: Double) {
            self.state = state
            self.labels = labels
            self.annotations = annotations
            self.activeSinceMs = activeSinceMs
            self.value = value
        }
    }

    /// A firing or resolved event, as it was delivered.
    public struct Event: Sendable, Codable, Equatable {
        /// "firing" or "resolved".
        public var status: String
        public var labels: [String: String]
        public var annotations: [String: String]
        public var startsAtMs: Int64
        public var endsAtMs: Int64?

        public init(status: String, labels: [String: String], annotations: [String: String], startsAtMs: Int64, endsAtMs: Int64?) {
            self.status = status
            self.labels = labels
            self.annotations = annotations
            self.startsAtMs = startsAtMs
            self.endsAtMs = endsAtMs
        }
    }

    /// The rules file, nil when the broker has none.
    public var file: String?
    public var rules: [Rule]
    public var alerts: [Alert]
    /// The latest events here, newest first (absent from brokers before the console).
    public var history: [Event]?

    public init(file: String?, rules: [Rule], alerts: [Alert], history: [Event]? = nil) {
        self.file = file
        self.rules = rules
        self.alerts = alerts
        self.history = history
    }
}

extension AlertsView {
    /// What an alert is about: its labels but its name, `key=value` by key, joined by `separator`.
    public static func subject(of labels: [String: String], separator: String) -> String {
        labels.filter { $0.key != "alertname" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: separator)
    }

    /// An alert's value as its annotations' `{value}` writes it.
    public static func formatted(_ value: Double) -> String {
        AlertEngine.format(value)
    }
}
