public import KafkaProtocol

/// Everything a ``KafkaClient`` or ``KafkaClientConnection`` call can fail with. Errors the broker
/// reported keep its ``KafkaErrorCode`` and message; the others say what the client saw.
///
/// `description` is one line meant for people (the CLI prints it as it is), e.g.
/// `TOPIC_ALREADY_EXISTS (36): topic "orders": Topic 'orders' already exists.`
public enum StromClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broker answered with an error code. `resource` names what it applies to ("topic
    /// \"orders\" partition 2"); `message` is the broker's own text, when it sent one.
    case kafka(KafkaErrorCode, resource: String, message: String?)
    /// The TCP connection could not be established.
    case connectionFailed(host: String, port: Int, reason: String)
    /// The connection closed (or failed) while the call was in flight, or before it was sent.
    case connectionClosed(host: String, port: Int, reason: String)
    /// No response arrived within the call's timeout. The connection stays usable; a late answer
    /// is dropped.
    case timedOut(apiKey: ApiKey, correlationId: Int32, timeoutMs: Int64)
    /// The broker does not serve the API at any version this client can speak (`brokerVersions`
    /// is nil when the broker does not advertise the API at all).
    case unsupportedApi(ApiKey, brokerVersions: ClosedRange<Int16>?, clientVersions: ClosedRange<Int16>)
    /// More calls in flight on one connection than ``ClientLimits/inFlightRequestsMax``.
    case tooManyInFlightRequests(limit: Int)
    /// A request could not be encoded at the negotiated version.
    case encoding(ApiKey, version: Int16, KafkaEncodingError)
    /// A response, or record data inside one, could not be decoded.
    case malformedResponse(ApiKey, reason: String)
    /// The caller asked for something impossible (an empty batch, a partition the topic lacks).
    case invalidArgument(String)
    /// The calling task was cancelled.
    case cancelled

    /// The Kafka error code, for errors the broker reported.
    public var kafkaErrorCode: KafkaErrorCode? {
        if case .kafka(let code, _, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .kafka(let code, let resource, let message):
            let detail = message.flatMap { $0.isEmpty ? nil : $0 } ?? code.message
            return "\(code.name) (\(code.rawValue)): \(resource): \(detail)"
        case .connectionFailed(let host, let port, let reason):
            return "cannot connect to \(host):\(port): \(reason)"
        case .connectionClosed(let host, let port, let reason):
            return "connection to \(host):\(port) closed: \(reason)"
        case .timedOut(let apiKey, let correlationId, let timeoutMs):
            return "REQUEST_TIMED_OUT: no \(apiKey.name) response (correlation id \(correlationId)) within \(timeoutMs) ms"
        case .unsupportedApi(let apiKey, let brokerVersions?, let clientVersions):
            return "UNSUPPORTED_VERSION: the broker serves \(apiKey.name) v\(brokerVersions.lowerBound)-\(brokerVersions.upperBound), "
                + "this client needs v\(clientVersions.lowerBound)-\(clientVersions.upperBound)"
        case .unsupportedApi(let apiKey, nil, _):
            return "UNSUPPORTED_VERSION: the broker does not serve \(apiKey.name)"
        case .tooManyInFlightRequests(let limit):
            return "more than \(limit) requests in flight on one connection"
        case .encoding(let apiKey, let version, let error):
            return "cannot encode \(apiKey.name) v\(version): \(error)"
        case .malformedResponse(let apiKey, let reason):
            return "malformed \(apiKey.name) response: \(reason)"
        case .invalidArgument(let reason):
            return reason
        case .cancelled:
            return "cancelled"
        }
    }

    /// `.kafka` for a non-zero code, nil for 0 (NONE).
    static func check(_ rawCode: Int16, resource: @autoclosure () -> String, message: String? = nil) -> StromClientError? {
        guard rawCode != KafkaErrorCode.none.rawValue else { return nil }
        return .kafka(KafkaErrorCode(rawValue: rawCode), resource: resource(), message: message)
    }
}
