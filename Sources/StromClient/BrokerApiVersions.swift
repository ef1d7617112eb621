public import KafkaProtocol

/// The version ranges a broker advertised in its ApiVersions response, and the choice of the
/// version to speak per API: the highest one both sides know.
public struct BrokerApiVersions: Sendable, Hashable {
    /// The broker's range per API key; APIs it does not advertise are absent.
    public let ranges: [ApiKey: ClosedRange<Int16>]

    public init(ranges: [ApiKey: ClosedRange<Int16>]) {
        self.ranges = ranges
    }

    /// Reads an ApiVersions response; keys this client does not know and empty ranges are skipped.
    public init(_ response: ApiVersionsResponse) {
        var ranges: [ApiKey: ClosedRange<Int16>] = [:]
        for entry in response.apiKeys {
            guard let apiKey = ApiKey(rawValue: entry.apiKey), entry.minVersion <= entry.maxVersion else { continue }
            ranges[apiKey] = entry.minVersion...entry.maxVersion
        }
        self.ranges = ranges
    }

    /// The highest version of `Request` that the broker serves and that this build's codecs can
    /// encode and decode (request and response ranges), not below `minimum`.
    ///
    /// - Parameter minimum: the lowest version the caller's logic handles (Produce needs v3 for
    ///   record batches v2).
    /// - Throws: ``StromClientError/unsupportedApi(_:brokerVersions:clientVersions:)`` when the ranges do not meet.
    public func version<Request: KafkaRequestMessage>(for request: Request.Type, minimum: Int16 = 0) throws(StromClientError) -> Int16 {
        let clientLowest = Swift.max(Request.validVersions.lowerBound, Request.Response.validVersions.lowerBound, minimum)
        let clientHighest = Swift.min(Request.validVersions.upperBound, Request.Response.validVersions.upperBound)
        let clientVersions = clientLowest...Swift.max(clientLowest, clientHighest)
        guard let broker = ranges[Request.apiKey] else {
            throw .unsupportedApi(Request.apiKey, brokerVersions: nil, clientVersions: clientVersions)
        }
        let highest = Swift.min(broker.upperBound, clientHighest)
        guard clientLowest <= clientHighest, highest >= Swift.max(broker.lowerBound, clientLowest) else {
            throw .unsupportedApi(Request.apiKey, brokerVersions: broker, clientVersions: clientVersions)
        }
        return highest
    }

    /// Whether ``version(for:minimum:)`` would find a version.
    public func supports<Request: KafkaRequestMessage>(_ request: Request.Type, minimum: Int16 = 0) -> Bool {
        (try? version(for: request, minimum: minimum)) != nil
    }
}
