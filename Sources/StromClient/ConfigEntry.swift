/// One configuration value as DescribeConfigs reports it.
public struct ConfigEntry: Sendable, Hashable {
    /// Where a value comes from (Kafka's `DescribeConfigsResponse.ConfigSource` ids).
    public struct Source: RawRepresentable, Sendable, Hashable {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }

        public static let unknown = Source(rawValue: 0)
        /// Set on the topic itself: what `kafka-topics --describe` lists as the topic's configs.
        public static let topicConfig = Source(rawValue: 1)
        public static let dynamicBrokerConfig = Source(rawValue: 2)
        public static let dynamicDefaultBrokerConfig = Source(rawValue: 3)
        public static let staticBrokerConfig = Source(rawValue: 4)
        public static let defaultConfig = Source(rawValue: 5)
        public static let dynamicBrokerLoggerConfig = Source(rawValue: 6)
        public static let clientMetricsConfig = Source(rawValue: 7)
        public static let groupConfig = Source(rawValue: 8)
    }

    public var name: String
    /// nil for sensitive values and for unset values without a default.
    public var value: String?
    public var source: Source
    public var isReadOnly: Bool
    public var isSensitive: Bool

    public init(name: String, value: String?, source: Source, isReadOnly: Bool = false, isSensitive: Bool = false) {
        self.name = name
        self.value = value
        self.source = source
        self.isReadOnly = isReadOnly
        self.isSensitive = isSensitive
    }
}

/// One change in an IncrementalAlterConfigs request (Kafka's `AlterConfigOp`).
public enum ConfigAlteration: Sendable, Hashable {
    case set(name: String, value: String)
    /// Back to the default (the broker's or the cluster's).
    case delete(name: String)
    /// Adds to a list-valued config.
    case append(name: String, value: String)
    /// Removes from a list-valued config.
    case subtract(name: String, value: String)

    public var name: String {
        switch self {
        case .set(let name, _), .delete(let name), .append(let name, _), .subtract(let name, _): name
        }
    }

    /// Kafka's `AlterConfigOp.OpType` ids.
    var operation: Int8 {
        switch self {
        case .set: 0
        case .delete: 1
        case .append: 2
        case .subtract: 3
        }
    }

    var value: String? {
        switch self {
        case .set(_, let value), .append(_, let value), .subtract(_, let value): value
        case .delete: nil
        }
    }
}
