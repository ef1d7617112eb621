import KafkaProtocol
import StromStorage

/// Kafka's `ConfigResource.Type` codes, as DescribeConfigs and AlterConfigs carry them.
enum ConfigResourceType: Int8 {
    case unknown = 0
    case topic = 2
    case broker = 4
    case brokerLogger = 8
    case clientMetrics = 16
    case group = 32
}

/// Where a described value comes from (Kafka's `DescribeConfigsResponse.ConfigSource`).
enum ConfigSource: Int8 {
    case unknown = 0
    case topicConfig = 1
    case dynamicBrokerConfig = 2
    case dynamicDefaultBrokerConfig = 3
    case staticBrokerConfig = 4
    case defaultConfig = 5
    case groupConfig = 8

    /// The name Kafka's tools print (`kafka-configs.sh --describe`).
    var kafkaName: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .topicConfig: "DYNAMIC_TOPIC_CONFIG"
        case .dynamicBrokerConfig: "DYNAMIC_BROKER_CONFIG"
        case .dynamicDefaultBrokerConfig: "DYNAMIC_DEFAULT_BROKER_CONFIG"
        case .staticBrokerConfig: "STATIC_BROKER_CONFIG"
        case .defaultConfig: "DEFAULT_CONFIG"
        case .groupConfig: "DYNAMIC_GROUP_CONFIG"
        }
    }
}

/// Kafka's `ConfigDef.Type` codes for DescribeConfigs v3+.
enum ConfigValueType: Int8 {
    case unknown = 0
    case boolean = 1
    case string = 2
    case int = 3
    case short = 4
    case long = 5
    case double = 6
    case list = 7
    case `class` = 8
    case password = 9

    init(_ type: LogConfigKey.ConfigType) {
        switch type {
        case .boolean: self = .boolean
        case .string: self = .string
        case .int: self = .int
        case .long: self = .long
        case .double: self = .double
        case .list: self = .list
        }
    }
}

/// IncrementalAlterConfigs operations (Kafka's `AlterConfigOp.OpType`).
enum ConfigOperation: Int8 {
    case set = 0
    case delete = 1
    case append = 2
    case subtract = 3
}
