/// Why a call to etcd failed.
public enum EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No endpoint answered before the deadline (each was tried, with backoff).
    case unavailable(String)
    /// etcd answered with an error (its gRPC code and message), e.g. a lease that is gone.
    case server(code: Int, message: String)
    /// The watched revision was compacted away: reload a snapshot and watch from its revision.
    case compacted(revision: Int64)
    /// etcd's answer could not be read.
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "etcd unavailable: \(reason)"
        case .server(let code, let message): "etcd error \(code): \(message)"
        case .compacted(let revision): "etcd revision compacted (compact revision \(revision))"
        case .malformedResponse(let reason): "malformed etcd response: \(reason)"
        }
    }

    /// gRPC's NOT_FOUND, which etcd answers for a lease that expired or was revoked.
    public var isNotFound: Bool {
        if case .server(let code, _) = self { return code == 5 }
        return false
    }
}
