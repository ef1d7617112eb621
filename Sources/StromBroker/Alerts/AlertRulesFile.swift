import Configuration

/// The alert rules file (`alerts.file`), JSON read with swift-configuration. Its keys:
///
/// ```json
/// {
///   "rules": ["billing-behind", "replicas"],
///   "billing-behind": {
///     "groups": "billing-*", "topics": "*",
///     "condition": "time_lag_seconds > 30", "for": "1m",
///     "labels": ["severity=page"], "annotations": ["summary={group} is {value} s behind on {topic}"]
///   },
///   "replicas": { "condition": "partition_under_min_isr", "for": "30s" },
///   "webhooks": ["http://127.0.0.1:9095/alerts"],
///   "group_interval": "5m"
/// }
/// ```
///
/// Rule names list the rules (swift-configuration reads values by key, not lists of objects);
/// labels and annotations are `name=value` strings. Durations: a number with `ms`, `s`, `m` or `h`.
public enum AlertRulesFile {
    public struct Contents: Sendable, Equatable {
        public var rules: [AlertRule]
        /// Where firing and resolved alerts are posted, in Alertmanager's webhook format.
        public var webhooks: [String]
        /// At most one notification per alert per this interval (Alertmanager's group_interval).
        public var groupIntervalMs: Int64
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var path: String
        /// The key at fault (`billing-behind.condition`), or empty for the file as a whole.
        public var key: String
        public var reason: String
        public var description: String { key.isEmpty ? "\(path): \(reason)" : "\(path): \(key): \(reason)" }
    }

    public static func load(path: String) async throws(Invalid) -> Contents {
        let reader: ConfigReader
        do {
            reader = ConfigReader(provider: try await FileProvider<JSONSnapshot>(filePath: .init(path)))
        } catch {
            throw Invalid(path: path, key: "", reason: "\(error)")
        }
        func invalid(_ key: String, _ reason: String) -> Invalid { Invalid(path: path, key: key, reason: reason) }
        let names = reader.stringArray(forKey: "rules") ?? []
        var rules: [AlertRule] = []
        for name in names {
            guard !name.isEmpty, !name.contains("."), !rules.contains(where: { $0.name == name }) else {
                throw invalid("rules", "rule names must be unique, non-empty and without dots: \(name)")
            }
            guard let conditionText = reader.string(forKey: ConfigKey("\(name).condition")) else {
                throw invalid("\(name).condition", "missing (a rule named in rules needs a condition)")
            }
            let condition: AlertRule.Condition
            do {
                condition = try AlertRule.condition(conditionText)
            } catch {
                throw invalid("\(name).condition", error.description)
            }
            var forMs: Int64 = 0
            if let text = reader.string(forKey: ConfigKey("\(name).for")) {
                guard let parsed = duration(text) else { throw invalid("\(name).for", "not a duration (10s, 500ms, 5m, 1h): \(text)") }
                forMs = parsed
            }
            rules.append(AlertRule(
                name: name, groups: reader.string(forKey: ConfigKey("\(name).groups")) ?? "*",
                topics: reader.string(forKey: ConfigKey("\(name).topics")) ?? "*", condition: condition, forMs: forMs,
                labels: try pairs(reader.stringArray(forKey: ConfigKey("\(name).labels")) ?? [], key: "\(name).labels", path: path),
                annotations: try pairs(reader.stringArray(forKey: ConfigKey("\(name).annotations")) ?? [], key: "\(name).annotations", path: path)))
        }
        let webhooks = reader.stringArray(forKey: "webhooks") ?? []
        for webhook in webhooks where !(webhook.hasPrefix("http://") || webhook.hasPrefix("https://")) {
            throw invalid("webhooks", "not an http(s) URL: \(webhook)")
        }
        var groupIntervalMs: Int64 = 5 * 60_000
        if let text = reader.string(forKey: "group_interval") {
            guard let parsed = duration(text), parsed > 0 else { throw invalid("group_interval", "not a positive duration: \(text)") }
            groupIntervalMs = parsed
        }
        return Contents(rules: rules, webhooks: webhooks, groupIntervalMs: groupIntervalMs)
    }

    private static func pairs(_ items: [String], key: String, path: String) throws(Invalid) -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw Invalid(path: path, key: key, reason: "expected name=value, not \(item)")
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// `250ms`, `10s`, `5m`, `1h` in milliseconds.
    static func duration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return Int64(number * Double(scale))
        }
        return nil
    }
}
