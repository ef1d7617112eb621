import KafkaProtocol
import NIOCore

/// One record of `__transaction_state` in Kafka's format: the key is the transactional id (key
/// version 0), the value a transactional id's whole state (value version 0; 1 once the client
/// transaction version is written); a null value removes the id (compaction keeps the latest).
struct TransactionLogRecord: Sendable, Equatable, CoordinatorLogRecord {
    var key: TransactionLogKey
    var value: TransactionLogValue?

    static let keyVersion: Int16 = 0
    static let valueVersion: Int16 = 0

    func encoded() throws(KafkaEncodingError) -> (key: ByteBuffer, value: ByteBuffer?) {
        var keyBytes = ByteBuffer()
        keyBytes.writeKafkaInt16(Self.keyVersion)
        try key.write(into: &keyBytes, version: Self.keyVersion)
        guard let value else { return (keyBytes, nil) }
        var valueBytes = ByteBuffer()
        valueBytes.writeKafkaInt16(Self.valueVersion)
        try value.write(into: &valueBytes, version: Self.valueVersion)
        return (keyBytes, valueBytes)
    }

    /// Reads a record written by Strom or by Kafka (any known version).
    static func decode(key: ByteBuffer, value: ByteBuffer?) throws -> TransactionLogRecord {
        var key = key
        let keyVersion = try key.readKafkaInt16()
        guard TransactionLogKey.validVersions.contains(keyVersion) else {
            throw CoordinatorRecord.DecodingFailed(description: "TransactionLogKey version \(keyVersion) is unknown")
        }
        let decodedKey = try TransactionLogKey(from: &key, version: keyVersion)
        return TransactionLogRecord(key: decodedKey, value: try value.map { try CoordinatorRecord.decodeValue(TransactionLogValue.self, $0) })
    }
}
