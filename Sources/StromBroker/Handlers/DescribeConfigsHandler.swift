import KafkaProtocol
import StromStorage

/// DescribeConfigs for topics (overrides, else the broker's defaults) and for this broker, with
/// Kafka's names, config sources, synonyms, types and documentation.
struct DescribeConfigsHandler: Sendable {
    let broker: Broker

    typealias Entry = DescribeConfigsResponse.DescribeConfigsResourceResult
    typealias Synonym = DescribeConfigsResponse.DescribeConfigsSynonym

    func handle(_ request: DescribeConfigsRequest, version: Int16) -> DescribeConfigsResponse {
        var response = DescribeConfigsResponse(results: [])
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult(
                errorMessage: nil, resourceType: resource.resourceType, resourceName: resource.resourceName)
            let wanted = resource.configurationKeys.map(Set.init)
            switch ConfigResourceType(rawValue: resource.resourceType) {
            case .topic?:
                if let overrides = broker.topicConfigs(resource.resourceName) {
                    result.configs = topicEntries(overrides: overrides, request: request, version: version)
                } else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                    result.errorMessage = "topic \(resource.resourceName) does not exist"
                }
            case .broker?:
                if resource.resourceName == String(broker.configuration.nodeId) {
                    result.configs = brokerEntries(request: request, version: version)
                } else if resource.resourceName.isEmpty {
                    result.configs = clusterDefaultEntries(request: request, version: version)
                } else {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = "unexpected broker id \(resource.resourceName), this is broker \(broker.configuration.nodeId)"
                }
            case .group?:
                result.configs = groupEntries(resource.resourceName, request: request, version: version)
            default:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "describing configs of resource type \(resource.resourceType) is not supported"
            }
            if let wanted { result.configs.removeAll { !wanted.contains($0.name) } }
            response.results.append(result)
        }
        return response
    }

    /// A topic's every config, its value and where the value comes from, as DescribeConfigs
    /// reports them (the console's topic page).
    func topicConfigSources(overrides: [String: String]) -> [TopicConfigView] {
        effectiveTopicConfigs(overrides: overrides).map { TopicConfigView(name: $0.name, value: $0.value, source: $0.source.kafkaName) }
    }

    /// A topic's every config in LogConfig's order with its value and source: the topic's own
    /// (`overrides`), else the first broker layer that sets it, else Kafka's default. CreateTopics
    /// v5+ answers with these too.
    func effectiveTopicConfigs(overrides: [String: String]) -> [(name: String, value: String, source: ConfigSource)] {
        LogConfig.keys.map { key in
            var synonyms = brokerLayers(for: key)
            if let override = overrides[key.name] {
                synonyms.insert(Synonym(name: key.name, value: override, source: ConfigSource.topicConfig.rawValue), at: 0)
            }
            return (key.name, synonyms[0].value ?? key.defaultValue, ConfigSource(rawValue: synonyms[0].source) ?? .unknown)
        }
    }

    /// Where a topic default comes from, most specific first: this broker's dynamic config, the
    /// cluster-wide dynamic default, the static config (file, flags, environment), Kafka's default.
    private func brokerLayers(for key: LogConfigKey) -> [Synonym] {
        let configuration = broker.configuration
        var layers: [Synonym] = []
        if let value = broker.dynamicBrokerConfigs(String(configuration.nodeId))[key.serverDefaultProperty] {
            layers.append(Synonym(name: key.serverDefaultProperty, value: value, source: ConfigSource.dynamicBrokerConfig.rawValue))
        }
        if let value = broker.dynamicBrokerConfigs("")[key.serverDefaultProperty] {
            layers.append(Synonym(name: key.serverDefaultProperty, value: value, source: ConfigSource.dynamicDefaultBrokerConfig.rawValue))
        }
        if configuration.staticProperties[key.serverDefaultProperty] != nil {
            let value = configuration.logDefaults.properties[key.name] ?? key.defaultValue
            layers.append(Synonym(name: key.serverDefaultProperty, value: value, source: ConfigSource.staticBrokerConfig.rawValue))
        }
        layers.append(Synonym(name: key.serverDefaultProperty, value: key.defaultValue, source: ConfigSource.defaultConfig.rawValue))
        return layers
    }

    private func topicEntries(overrides: [String: String], request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        LogConfig.keys.map { key in
            var synonyms = brokerLayers(for: key)
            if let override = overrides[key.name] {
                synonyms.insert(Synonym(name: key.name, value: override, source: ConfigSource.topicConfig.rawValue), at: 0)
            }
            return entry(
                name: key.name, value: synonyms[0].value ?? key.defaultValue, source: ConfigSource(rawValue: synonyms[0].source) ?? .unknown,
                readOnly: false, type: ConfigValueType(key.type), documentation: key.documentation, synonyms: synonyms,
                request: request, version: version)
        }
    }

    private func brokerEntries(request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        let configuration = broker.configuration
        let logKeys = Dictionary(uniqueKeysWithValues: LogConfig.keys.map { ($0.serverDefaultProperty, $0) })
        return configuration.describedEntries.map { described in
            if let key = logKeys[described.name] {
                // A topic default: it may change at run time (IncrementalAlterConfigs on the broker).
                let synonyms = brokerLayers(for: key)
                return entry(
                    name: described.name, value: synonyms[0].value ?? key.defaultValue,
                    source: ConfigSource(rawValue: synonyms[0].source) ?? .unknown, readOnly: false, type: described.type,
                    documentation: described.documentation, synonyms: synonyms, request: request, version: version)
            }
            let source: ConfigSource = configuration.staticProperties[described.name] != nil ? .staticBrokerConfig : .defaultConfig
            return entry(
                name: described.name, value: described.value, source: source, readOnly: true, type: described.type,
                documentation: described.documentation,
                synonyms: [Synonym(name: described.name, value: described.value, source: source.rawValue)],
                request: request, version: version)
        }
    }

    /// The cluster-wide dynamic defaults (the broker resource named "").
    private func clusterDefaultEntries(request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        let logKeys = Dictionary(uniqueKeysWithValues: LogConfig.keys.map { ($0.serverDefaultProperty, $0) })
        return broker.dynamicBrokerConfigs("").sorted { $0.key < $1.key }.map { name, value in
            let key = logKeys[name]
            let source = ConfigSource.dynamicDefaultBrokerConfig
            return entry(
                name: name, value: value, source: source, readOnly: false, type: key.map { ConfigValueType($0.type) } ?? .string,
                documentation: key?.documentation ?? "", synonyms: [Synonym(name: name, value: value, source: source.rawValue)],
                request: request, version: version)
        }
    }

    /// A group's configs: its overrides, else the broker's settings.
    private func groupEntries(_ group: String, request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        let overrides = broker.groupConfigs(group)
        let defaults = broker.groupConfigVocabulary.defaults
        return GroupConfigs.keys.map { key in
            var synonyms = [Synonym(name: key.name, value: defaults[key.name], source: ConfigSource.defaultConfig.rawValue)]
            if let value = overrides[key.name] {
                synonyms.insert(Synonym(name: key.name, value: value, source: ConfigSource.groupConfig.rawValue), at: 0)
            }
            return entry(
                name: key.name, value: synonyms[0].value ?? "", source: ConfigSource(rawValue: synonyms[0].source) ?? .unknown,
                readOnly: false, type: key.type, documentation: key.documentation, synonyms: synonyms, request: request, version: version)
        }
    }

    /// One entry with only the fields `version` has (a field absent at a version must keep its default).
    private func entry(
        name: String, value: String, source: ConfigSource, readOnly: Bool, type: ConfigValueType, documentation: String,
        synonyms: [Synonym], request: DescribeConfigsRequest, version: Int16
    ) -> Entry {
        var entry = Entry(name: name, value: value, readOnly: readOnly, isSensitive: false, documentation: nil)
        if version == 0 {
            entry.isDefault = source == .defaultConfig
        } else {
            entry.configSource = source.rawValue
            if request.includeSynonyms { entry.synonyms = synonyms }
        }
        if version >= 3 {
            entry.configType = type.rawValue
            if request.includeDocumentation { entry.documentation = documentation }
        }
        return entry
    }
}
