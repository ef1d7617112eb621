import KafkaProtocol

/// DescribeCluster: the cluster id, the controller and the brokers (KIP-700).
struct DescribeClusterHandler: Sendable {
    let broker: Broker

    /// Kafka's `EndpointType`: 1 asks for brokers, 2 for controllers (answered only by controllers'
    /// own listeners; a broker refuses it).
    static let brokersEndpoint: Int8 = 1

    /// The operations an unauthenticated client may perform on the cluster without an authorizer:
    /// all of Kafka's cluster operations (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
    /// ALTER_CONFIGS, IDEMPOTENT_WRITE), as a bit set of `AclOperation` codes.

    func handle(_ request: DescribeClusterRequest, version: Int16) -> DescribeClusterResponse {
        let image = broker.partitions.current
        var response = DescribeClusterResponse(
            errorMessage: nil, clusterId: image.clusterId, controllerId: image.controllerId,
            brokers: image.brokers.map { .init(brokerId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) })
        if version >= 1 { response.endpointType = request.endpointType }
        if request.endpointType != Self.brokersEndpoint {
            response.errorCode = KafkaErrorCode.unsupportedEndpointType.rawValue
            response.errorMessage = "this broker lists brokers (endpoint type 1), not controllers"
            response.brokers = []
        }
        if request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = AuthorizedOperations.cluster
        }
        return response
    }
}
