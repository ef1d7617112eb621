import KafkaProtocol

/// ApiVersions: the first request every client sends.
enum ApiVersionsHandler {
    static func handle(_ request: ApiVersionsRequest, version: Int16) -> ApiVersionsResponse {
        ApiVersionsResponse(errorCode: KafkaErrorCode.none.rawValue, apiKeys: SupportedApis.sortedKeys)
    }

    /// Kafka's rule for a version newer than the broker knows: answer at version 0 with
    /// UNSUPPORTED_VERSION and the supported ranges, so the client can retry with one it shares.
    static func unsupportedVersionResponse() -> ApiVersionsResponse {
        ApiVersionsResponse(errorCode: KafkaErrorCode.unsupportedVersion.rawValue, apiKeys: SupportedApis.sortedKeys)
    }
}
