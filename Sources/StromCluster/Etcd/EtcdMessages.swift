public import Foundation

// The JSON forms of etcd's v3 messages as its gRPC gateway speaks them (`/v3/kv/*`, `/v3/lease/*`,
// `/v3/watch`): keys and values are base64, 64-bit integers are JSON strings, and fields at their
// default value (0, false, empty, the first enum case) are left out, so every field is optional
// when decoding.

/// One key as etcd stores it.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: Data
    /// The revision of the key's creation (0: the key does not exist).
    public var createRevision: Int64
    /// The revision of the key's last change; compared by transactions to detect a concurrent writer.
    public var modRevision: Int64
    /// The lease the key is attached to (0: none); the key goes when the lease expires.
    public var lease: Int64

    public init(key: String, value: Data, createRevision: Int64 = 0, modRevision: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.lease = lease
    }
}

/// A condition of a transaction on one key.
public struct EtcdCompare: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        /// The key's mod revision (0 when the key is missing).
        case modRevision(Int64)
        /// The key's create revision (0 when the key is missing: `createRevision(0)` means "absent").
        case createRevision(Int64)
        /// The key's value.
        case value(Data)
    }

    public enum Result: String, Sendable {
        case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL"
    }

    public var key: String
    public var target: Target
    public var result: Result

    public init(key: String, _ result: Result = .equal, _ target: Target) {
        self.key = key
        self.target = target
        self.result = result
    }

    /// The key does not exist.
    public static func absent(_ key: String) -> EtcdCompare { EtcdCompare(key: key, .equal, .createRevision(0)) }

    /// The key was last changed at `revision` (0: it does not exist).
    public static func unchanged(_ key: String, since revision: Int64) -> EtcdCompare {
        EtcdCompare(key: key, .equal, .modRevision(revision))
    }
}

/// One operation of a transaction.
public enum EtcdOperation: Sendable, Hashable {
    case put(key: String, value: Data, lease: Int64 = 0)
    case delete(key: String)
    /// Every key starting with the prefix.
    case deletePrefix(String)
    case get(key: String)
}

/// A transaction: if every comparison holds, the success operations run, else the failure ones,
/// atomically, at one new revision.
public struct EtcdTransaction: Sendable, Hashable {
    public var compare: [EtcdCompare]
    public var success: [EtcdOperation]
    public var failure: [EtcdOperation]

    public init(compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

/// What a transaction did.
public struct EtcdTransactionResult: Sendable {
    /// Whether every comparison held (the success operations ran).
    public var succeeded: Bool
    /// The store's revision after the transaction (the transaction's own, if it wrote).
    public var revision: Int64
    /// The keys each `get` operation of the branch that ran found, in operation order.
    public var gets: [[EtcdKeyValue]]
}

/// One change seen by a watch.
public struct EtcdEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case put, delete }
    public var kind: Kind
    /// The key after the change; for a delete, the key with its mod revision and no value.
    public var keyValue: EtcdKeyValue
}

// MARK: Wire forms

/// A 64-bit integer that etcd's gateway writes as a JSON string (and reads as either).
struct EtcdInt64: Codable, Sendable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self), let value = Int64(text) {
            self.value = value
        } else {
            self.value = try container.decode(Int64.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

struct WireHeader: Decodable {
    var revision: EtcdInt64?
}

struct WireKeyValue: Decodable {
    var key: String?
    var value: String?
    var create_revision: EtcdInt64?
    var mod_revision: EtcdInt64?
    var lease: EtcdInt64?

    func keyValue() throws(EtcdError) -> EtcdKeyValue {
        guard let keyBytes = Data(base64Encoded: key ?? ""), let keyText = String(data: keyBytes, encoding: .utf8) else {
            throw .malformedResponse("a key that is not base64 UTF-8: \(key ?? "nil")")
        }
        guard let valueBytes = Data(base64Encoded: value ?? "") else {
            throw .malformedResponse("the value of \(keyText) is not base64")
        }
        return EtcdKeyValue(
            key: keyText, value: valueBytes, createRevision: create_revision?.value ?? 0,
            modRevision: mod_revision?.value ?? 0, lease: lease?.value ?? 0)
    }
}

struct WireRangeRequest: Encodable {
    var key: String
    var range_end: String?
    var revision: EtcdInt64?
    var keys_only: Bool?
}

struct WireRangeResponse: Decodable {
    var header: WireHeader?
    var kvs: [WireKeyValue]?
    var more: Bool?
}

struct WirePutRequest: Encodable {
    var key: String
    var value: String
    var lease: EtcdInt64?
}

struct WireDeleteRangeRequest: Encodable {
    var key: String
    var range_end: String?
}

struct WireCompare: Encodable {
    var key: String
    var target: String
    var result: String
    var mod_revision: EtcdInt64?
    var create_revision: EtcdInt64?
    var value: String?
}

struct WireRequestOp: Encodable {
    var request_put: WirePutRequest?
    var request_delete_range: WireDeleteRangeRequest?
    var request_range: WireRangeRequest?
}

struct WireTxnRequest: Encodable {
    var compare: [WireCompare]
    var success: [WireRequestOp]
    var failure: [WireRequestOp]
}

struct WireResponseOp: Decodable {
    var response_range: WireRangeResponse?
}

struct WireTxnResponse: Decodable {
    var header: WireHeader?
    var succeeded: Bool?
    var responses: [WireResponseOp]?
}

struct WireLeaseGrantRequest: Encodable {
    var TTL: EtcdInt64
}

struct WireLeaseIdRequest: Encodable {
    var ID: EtcdInt64
}

struct WireLeaseGrantResponse: Decodable {
    var ID: EtcdInt64?
    var TTL: EtcdInt64?
    var error: String?
}

struct WireLeaseKeepAliveResponse: Decodable {
    struct Result: Decodable {
        var ID: EtcdInt64?
        var TTL: EtcdInt64?
    }
    var result: Result?
}

struct WireWatchCreate: Encodable {
    struct Create: Encodable {
        var key: String
        var range_end: String
        var start_revision: EtcdInt64
        var progress_notify: Bool
    }
    var create_request: Create
}

struct WireWatchMessage: Decodable {
    struct Result: Decodable {
        struct Event: Decodable {
            var type: String?
            var kv: WireKeyValue?
        }
        var header: WireHeader?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: EtcdInt64?
        var cancel_reason: String?
        var events: [Event]?
    }
    struct Failure: Decodable {
        var message: String?
        var code: Int?
    }
    var result: Result?
    var error: Failure?
}

/// The body of an error answer (HTTP status other than 200).
struct WireError: Decodable {
    var error: String?
    var message: String?
    var code: Int?
}

extension String {
    /// The base64 of this string's UTF-8, as etcd's gateway wants keys.
    var etcdBase64: String { Data(utf8).base64EncodedString() }

    /// The end of the range of every key that starts with this prefix: the prefix with its last
    /// byte raised by one (etcd's `range_end` convention).
    var etcdPrefixEnd: String {
        var bytes = Array(utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes).base64EncodedString()
            }
            bytes.removeLast()
        }
        // Every byte 0xFF: the range runs to the end of the key space ("\0").
        return Data([0]).base64EncodedString()
    }
}
