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
                } else if !resource.resourceName.isEmpty {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = "unexpected broker id \(resource.resourceName), this is broker \(broker.configuration.nodeId)"
                }
                // An empty name asks for the cluster-wide dynamic defaults: there are none.
            default:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "describing configs of resource type \(resource.resourceType) is not supported"
            }
            if let wanted { result.configs.removeAll { !wanted.contains($0.name) } }
            response.results.append(result)
        }
        return response
    }

    private func topicEntries(overrides: [String: String], request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        let configuration = broker.configuration
        let brokerDefaults = configuration.logDefaults.properties
        return LogConfig.keys.map { key in
            let staticValue = configuration.staticProperties[key.serverDefaultProperty].map { _ in brokerDefaults[key.name] ?? key.defaultValue }
            var synonyms: [Synonym] = []
            if let override = overrides[key.name] {
                synonyms.append(Synonym(name: key.name, value: override, source: ConfigSource.topicConfig.rawValue))
            }
            if let staticValue {
                synonyms.append(Synonym(name: key.serverDefaultProperty, value: staticValue, source: ConfigSource.staticBrokerConfig.rawValue))
            }
            synonyms.append(Synonym(name: key.serverDefaultProperty, value: key.defaultValue, source: ConfigSource.defaultConfig.rawValue))
            let source: ConfigSource = overrides[key.name] != nil ? .topicConfig : staticValue != nil ? .staticBrokerConfig : .defaultConfig
            return entry(
                name: key.name, value: synonyms[0].value ?? key.defaultValue, source: source, readOnly: false,
                type: ConfigValueType(key.type), documentation: key.documentation, synonyms: synonyms,
                request: request, version: version)
        }
    }

    private func brokerEntries(request: DescribeConfigsRequest, version: Int16) -> [Entry] {
        let configuration = broker.configuration
        return configuration.describedEntries.map { described in
            let isStatic = configuration.staticProperties[described.name] != nil
            let source: ConfigSource = isStatic ? .staticBrokerConfig : .defaultConfig
            // Strom changes no broker config at run time yet, so all of them are read-only.
            return entry(
                name: described.name, value: described.value, source: source, readOnly: true, type: described.type,
                documentation: described.documentation,
                synonyms: [Synonym(name: described.name, value: described.value, source: source.rawValue)],
                request: request, version: version)
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
