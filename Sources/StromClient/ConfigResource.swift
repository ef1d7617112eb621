/// What a configuration belongs to (Kafka's `ConfigResource`).
public struct ConfigResource: Sendable, Hashable {
    /// Kafka's resource type ids (`ConfigResource.Type`).
    public struct ResourceType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int8
        public init(rawValue: Int8) { self.rawValue = rawValue }

        public static let topic = ResourceType(rawValue: 2)
        public static let broker = ResourceType(rawValue: 4)
        public static let brokerLogger = ResourceType(rawValue: 8)
        public static let clientMetrics = ResourceType(rawValue: 16)
        public static let group = ResourceType(rawValue: 32)

        public var description: String {
            switch self {
            case .topic: "topic"
            case .broker: "broker"
            case .brokerLogger: "broker logger"
            case .clientMetrics: "client metrics"
            case .group: "group"
            default: "resource type \(rawValue)"
            }
        }
    }

    public var type: ResourceType
    /// The topic name, or the broker's node id as text ("" for the cluster-wide broker default).
    public var name: String

    public init(type: ResourceType, name: String) {
        self.type = type
        self.name = name
    }

    public static func topic(_ name: String) -> ConfigResource { ConfigResource(type: .topic, name: name) }
    public static func broker(_ nodeId: Int32) -> ConfigResource { ConfigResource(type: .broker, name: "\(nodeId)") }
}

extension ConfigResource: CustomStringConvertible {
    public var description: String { "\(type) \"\(name)\"" }
}
