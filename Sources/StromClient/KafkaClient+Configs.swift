import KafkaProtocol

extension KafkaClient {
    /// A resource's configuration (DescribeConfigs). Topic configs are asked of the bootstrap
    /// broker; a broker's own configs of that broker.
    ///
    /// - Parameter keys: the names to report; nil reports every config.
    /// - Returns: the entries in the broker's order.
    /// - Throws: the resource's error (UNKNOWN_TOPIC_OR_PARTITION, ...) or the request's.
    public func describeConfigs(_ resource: ConfigResource, keys: [String]? = nil) async throws(StromClientError) -> [ConfigEntry] {
        let connection = try await configConnection(for: resource)
        let version = try connection.apiVersions.version(for: DescribeConfigsRequest.self)
        let request = DescribeConfigsRequest(resources: [
            .init(resourceType: resource.type.rawValue, resourceName: resource.name, configurationKeys: keys),
        ])
        let response = try await connection.send(request, version: version)
        guard let result = response.results.first(where: { $0.resourceType == resource.type.rawValue && $0.resourceName == resource.name }) else {
            throw .malformedResponse(.describeConfigs, reason: "no result for \(resource)")
        }
        if let error = StromClientError.check(result.errorCode, resource: "\(resource)", message: result.errorMessage) { throw error }
        return result.configs.map { config in
            // v0 has only a default flag; the source arrived in v1.
            let source = version == 0
                ? (config.isDefault ? ConfigEntry.Source.defaultConfig : .topicConfig)
                : ConfigEntry.Source(rawValue: config.configSource)
            return ConfigEntry(name: config.name, value: config.value, source: source, isReadOnly: config.readOnly, isSensitive: config.isSensitive)
        }
    }

    /// Changes some of a resource's configs and leaves the others alone (IncrementalAlterConfigs).
    ///
    /// - Parameter validateOnly: checks the change without applying it.
    /// - Throws: the resource's error (INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, ...) or the request's.
    public func incrementalAlterConfigs(
        _ resource: ConfigResource, _ alterations: [ConfigAlteration], validateOnly: Bool = false
    ) async throws(StromClientError) {
        guard !alterations.isEmpty else { throw .invalidArgument("no config changes given for \(resource)") }
        let connection = try await configConnection(for: resource)
        let version = try connection.apiVersions.version(for: IncrementalAlterConfigsRequest.self)
        let request = IncrementalAlterConfigsRequest(
            resources: [
                .init(
                    resourceType: resource.type.rawValue, resourceName: resource.name,
                    configs: alterations.map { .init(name: $0.name, configOperation: $0.operation, value: $0.value) }),
            ],
            validateOnly: validateOnly)
        let response = try await connection.send(request, version: version)
        guard let result = response.responses.first(where: { $0.resourceType == resource.type.rawValue && $0.resourceName == resource.name }) else {
            throw .malformedResponse(.incrementalAlterConfigs, reason: "no result for \(resource)")
        }
        if let error = StromClientError.check(result.errorCode, resource: "\(resource)", message: result.errorMessage) { throw error }
    }

    /// A broker's own configs live on that broker; everything else can be asked of any broker.
    private func configConnection(for resource: ConfigResource) async throws(StromClientError) -> KafkaClientConnection {
        guard resource.type == .broker || resource.type == .brokerLogger, let nodeId = Int32(resource.name) else { return bootstrap }
        if brokersAreUnknown { _ = try await metadata(topics: []) }
        return try await connection(toNode: nodeId)
    }
}
