/// Which header version frames an API version (Kafka's `ApiKeys.requestHeaderVersion` rules).
public enum KafkaHeaderVersions {
    /// Request header v2 (tagged fields) for flexible versions, v1 otherwise. ControlledShutdown v0
    /// predates client ids and uses v0.
    public static func request(apiKey: ApiKey, apiVersion: Int16) -> Int16 {
        if apiKey == .controlledShutdown && apiVersion == 0 { return 0 }
        return isFlexible(apiKey: apiKey, apiVersion: apiVersion) ? 2 : 1
    }

    /// Response header v1 (tagged fields) for flexible versions, v0 otherwise. ApiVersions always
    /// answers with v0 so a client can parse the answer before it knows what the broker speaks.
    public static func response(apiKey: ApiKey, apiVersion: Int16) -> Int16 {
        if apiKey == .apiVersions { return 0 }
        return isFlexible(apiKey: apiKey, apiVersion: apiVersion) ? 1 : 0
    }

    public static func isFlexible(apiKey: ApiKey, apiVersion: Int16) -> Bool {
        guard let lowest = apiKey.flexibleVersionsLowest else { return false }
        return apiVersion >= lowest
    }
}
