/// What the alert rules look at, gathered by the broker each evaluation.
public struct AlertObservations: Sendable {
    /// A partition's health as the controller sees it.
    public struct PartitionHealth: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var underMinInSync: Bool
        public var offline: Bool

        public init(topic: String, partition: Int32, underMinInSync: Bool, offline: Bool) {
            self.topic = topic
            self.partition = partition
            self.underMinInSync = underMinInSync
            self.offline = offline
        }
    }

    /// The groups this broker coordinates (group rules are judged by their coordinator alone).
    public var lag: [LagMonitor.PartitionLag]
    /// Filled on the controller only (cluster rules are judged once, there).
    public var partitions: [PartitionHealth]
    public var brokersDown: [Int32]

    public init(lag: [LagMonitor.PartitionLag] = [], partitions: [PartitionHealth] = [], brokersDown: [Int32] = []) {
        self.lag = lag
        self.partitions = partitions
        self.brokersDown = brokersDown
    }
}

/// An alert starting to fire or resolving: what is delivered (log line, webhook, metric).
public struct AlertEvent: Sendable, Equatable {
    public enum Status: String, Sendable { case firing, resolved }

    public var status: Status
    public var labels: [String: String]
    public var annotations: [String: String]
    public var startsAtMs: Int64
    /// When it resolved.
    public var endsAtMs: Int64?
}

/// The rules' state machine, pure (driven by observations and the time): an alert instance — a
/// rule and the subject it holds for (a group's partition, a partition, a broker) — is pending
/// while its condition holds for less than the rule's `for`, then firing until the condition no
/// longer holds, when it resolves. As Prometheus does.
public struct AlertEngine: Sendable {
    public struct Alert: Sendable, Equatable {
        public var labels: [String: String]
        public var annotations: [String: String]
        /// Since when the condition holds.
        public var activeSinceMs: Int64
        public var isFiring: Bool
        /// The observed value (time lag in seconds, lag in records; 1 for the others).
        public var value: Double
    }

    public private(set) var rules: [AlertRule]
    /// By instance key (rule name and subject labels).
    private var active: [String: Alert] = [:]

    public init(rules: [AlertRule]) {
        self.rules = rules
    }

    /// Every pending or firing alert, firing first, then by labels.
    public var alerts: [Alert] {
        // One comparison: sorted(by:) is not stable, so a second sort would undo the key order.
        active.sorted { ($0.value.isFiring ? 0 : 1, $0.key) < ($1.value.isFiring ? 0 : 1, $1.key) }.map(\.value)
    }

    public mutating func evaluate(_ observations: AlertObservations, nowMs: Int64) -> [AlertEvent] {
        var events: [AlertEvent] = []
        for rule in rules {
            let holding = Self.instances(of: rule, in: observations)
            for (key, instance) in holding {
                if var alert = active[key] {
                    alert.value = instance.value
                    alert.annotations = instance.annotations
                    if !alert.isFiring, nowMs - alert.activeSinceMs >= rule.forMs {
                        alert.isFiring = true
                        events.append(AlertEvent(status: .firing, labels: alert.labels, annotations: alert.annotations, startsAtMs: nowMs))
                    }
                    active[key] = alert
                } else {
                    var alert = Alert(labels: instance.labels, annotations: instance.annotations, activeSinceMs: nowMs, isFiring: false, value: instance.value)
                    if rule.forMs <= 0 {
                        alert.isFiring = true
                        events.append(AlertEvent(status: .firing, labels: alert.labels, annotations: alert.annotations, startsAtMs: nowMs))
                    }
                    active[key] = alert
                }
            }
            for key in active.keys where Self.rule(of: key) == rule.name && holding[key] == nil {
                events += end(key, nowMs: nowMs)
            }
        }
        return events
    }

    /// Takes new rules. Alerts of a rule that is gone, or whose definition changed, end (the firing
    /// ones resolve); those of unchanged rules go on as they were.
    public mutating func reload(_ newRules: [AlertRule], nowMs: Int64) -> [AlertEvent] {
        let kept = Set(newRules.filter { rules.contains($0) }.map(\.name))
        var events: [AlertEvent] = []
        for key in active.keys.sorted() where !kept.contains(Self.rule(of: key)) { events += end(key, nowMs: nowMs) }
        rules = newRules
        return events
    }

    private mutating func end(_ key: String, nowMs: Int64) -> [AlertEvent] {
        guard let alert = active.removeValue(forKey: key), alert.isFiring else { return [] }
        return [AlertEvent(status: .resolved, labels: alert.labels, annotations: alert.annotations, startsAtMs: alert.activeSinceMs, endsAtMs: nowMs)]
    }

    private struct Instance {
        var labels: [String: String]
        var annotations: [String: String]
        var value: Double
    }

    private static func rule(of key: String) -> String {
        String(key.prefix { $0 != "\u{1}" })
    }

    private static func key(_ rule: AlertRule, _ subject: [String: String]) -> String {
        ([rule.name] + subject.keys.sorted().map { "\($0)=\(subject[$0]!)" }).joined(separator: "\u{1}")
    }

    /// Where `rule` holds now, by instance key.
    private static func instances(of rule: AlertRule, in observations: AlertObservations) -> [String: Instance] {
        var found: [String: Instance] = [:]
        func add(_ subject: [String: String], value: Double) {
            var labels = rule.labels
            labels.merge(subject) { _, subject in subject }
            labels["alertname"] = rule.name
            let annotations = rule.annotations.mapValues { text in
                labels.reduce(text.replacingOccurrences(of: "{value}", with: format(value))) { text, label in
                    text.replacingOccurrences(of: "{\(label.key)}", with: label.value)
                }
            }
            found[key(rule, subject)] = Instance(labels: labels, annotations: annotations, value: value)
        }
        switch rule.condition {
        case .timeLagOver, .lagOver, .status:
            for lag in observations.lag
            where AlertRule.matches(rule.groups, lag.key.group) && AlertRule.matches(rule.topics, lag.key.topic) {
                let subject = ["group": lag.key.group, "topic": lag.key.topic, "partition": String(lag.key.partition)]
                switch rule.condition {
                case .timeLagOver(let seconds):
                    if let timeLagMs = lag.timeLagMs, Double(timeLagMs) / 1_000 > seconds { add(subject, value: Double(timeLagMs) / 1_000) }
                case .lagOver(let records):
                    if lag.lag > records { add(subject, value: Double(lag.lag)) }
                case .status(let statuses):
                    let isError = [.stall, .stop, .rewind].contains(lag.status)
                    if statuses.contains(lag.status.rawValue) || (isError && statuses.contains("ERROR")) { add(subject, value: 1) }
                default: break
                }
            }
        case .partitionUnderMinInSync, .partitionOffline:
            for partition in observations.partitions where AlertRule.matches(rule.topics, partition.topic) {
                let holds = rule.condition == .partitionOffline ? partition.offline : partition.underMinInSync
                if holds { add(["topic": partition.topic, "partition": String(partition.partition)], value: 1) }
            }
        case .brokerDown:
            for broker in observations.brokersDown { add(["broker": String(broker)], value: 1) }
        }
        return found
    }

    /// A value as annotations (`{value}`), the CLI and the console write it: whole numbers as
    /// integers, others to one decimal.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String((value * 10).rounded() / 10)
    }
}
