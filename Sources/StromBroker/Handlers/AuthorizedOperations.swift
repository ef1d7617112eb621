/// What `include_authorized_operations` answers while Strom has no authorizer: as Kafka without
/// one, every operation the resource type has (AclEntry.supportedOperations), as a bit field of
/// AclOperation codes (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
/// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12).
enum AuthorizedOperations {
    static let topic = bits([3, 4, 5, 6, 7, 8, 10, 11])
    static let cluster = bits([5, 7, 8, 9, 10, 11, 12])
    /// Kafka 4.x: groups have configs too (KIP-848).
    static let group = bits([3, 6, 8, 10, 11])

    private static func bits(_ operations: [Int32]) -> Int32 {
        operations.reduce(0) { $0 | (1 << $1) }
    }
}
