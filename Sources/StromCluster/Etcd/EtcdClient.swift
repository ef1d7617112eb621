public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOFoundationCompat
import Synchronization

/// etcd's v3 API through its JSON gateway, with every configured endpoint tried in turn.
///
/// A call goes to the endpoint that answered last; when it cannot be reached (connection refused,
/// reset, timed out) the next one is tried, round after round with a backoff that doubles from
/// ``backoffInitial`` to ``backoffMax``, until the call's deadline. An error etcd itself answers
/// (a failed lease lookup, a bad request) is not retried. Losing every endpoint and reaching one
/// again are each logged once.
public final class EtcdClient: Sendable {
    public let endpoints: [String]
    /// How long one call may take, retries included.
    public let requestTimeout: Duration
    public static let backoffInitial: Duration = .milliseconds(50)
    public static let backoffMax: Duration = .seconds(1)
    /// The least time one endpoint gets before the next is tried.
    public static let attemptTimeoutMin: Duration = .milliseconds(500)
    /// The largest answer read (a range over the whole metadata prefix; watch messages).
    public static let responseBytesMax = 256 << 20

    let httpClient: HTTPClient
    let logger: Logger
    private struct Reachability {
        var current = 0
        var lost = false
    }
    private let reachability = Mutex(Reachability())

    /// - Parameter endpoints: `host:port` or `http://host:port` of each etcd member.
    public init(endpoints: [String], requestTimeout: Duration = .seconds(5), httpClient: HTTPClient = .shared, logger: Logger) {
        precondition(!endpoints.isEmpty, "etcd needs at least one endpoint")
        self.endpoints = endpoints.map { $0.hasPrefix("http://") || $0.hasPrefix("https://") ? $0 : "http://\($0)" }
        self.requestTimeout = requestTimeout
        self.httpClient = httpClient
        self.logger = logger
    }

    // MARK: Keys

    /// The keys at `key` (or, with `prefix`, every key starting with it), sorted by key, and the
    /// store's revision they were read at.
    public func range(_ key: String, prefix: Bool = false) async throws(EtcdError) -> (keys: [EtcdKeyValue], revision: Int64) {
        let request = WireRangeRequest(key: key.etcdBase64, range_end: prefix ? key.etcdPrefixEnd : nil)
        let response: WireRangeResponse = try await post("/v3/kv/range", request)
        var keys: [EtcdKeyValue] = []
        for wire in response.kvs ?? [] { keys.append(try wire.keyValue()) }
        return (keys, response.header?.revision?.value ?? 0)
    }

    /// Runs `transaction` atomically.
    public func transaction(_ transaction: EtcdTransaction) async throws(EtcdError) -> EtcdTransactionResult {
        let request = WireTxnRequest(
            compare: transaction.compare.map(Self.wire), success: transaction.success.map(Self.wire),
            failure: transaction.failure.map(Self.wire))
        let response: WireTxnResponse = try await post("/v3/kv/txn", request)
        let succeeded = response.succeeded ?? false
        let branch = succeeded ? transaction.success : transaction.failure
        var gets: [[EtcdKeyValue]] = []
        for (operation, answer) in zip(branch, response.responses ?? []) {
            guard case .get = operation else { continue }
            var keys: [EtcdKeyValue] = []
            for wire in answer.response_range?.kvs ?? [] { keys.append(try wire.keyValue()) }
            gets.append(keys)
        }
        return EtcdTransactionResult(succeeded: succeeded, revision: response.header?.revision?.value ?? 0, gets: gets)
    }

    /// Writes one key unconditionally; returns the new revision.
    @discardableResult
    public func put(_ key: String, _ value: Data, lease: Int64 = 0) async throws(EtcdError) -> Int64 {
        try await transaction(EtcdTransaction(compare: [], success: [.put(key: key, value: value, lease: lease)])).revision
    }

    // MARK: Leases

    /// A new lease of `ttlSeconds`; keys put with it go when it expires.
    public func grantLease(ttlSeconds: Int64) async throws(EtcdError) -> Int64 {
        let response: WireLeaseGrantResponse = try await post("/v3/lease/grant", WireLeaseGrantRequest(TTL: EtcdInt64(ttlSeconds)))
        if let error = response.error, !error.isEmpty { throw .server(code: 0, message: error) }
        guard let id = response.ID?.value, id != 0 else { throw .malformedResponse("lease grant without an id") }
        return id
    }

    /// Renews `lease`; returns the seconds it has left, 0 when it is gone (expired or revoked).
    public func keepAlive(lease: Int64) async throws(EtcdError) -> Int64 {
        let response: WireLeaseKeepAliveResponse = try await post("/v3/lease/keepalive", WireLeaseIdRequest(ID: EtcdInt64(lease)))
        return response.result?.TTL?.value ?? 0
    }

    /// Ends `lease` now, deleting its keys (a clean shutdown's last step).
    public func revokeLease(_ lease: Int64) async throws(EtcdError) {
        let _: WireLeaseKeepAliveResponse.Result = try await post("/v3/lease/revoke", WireLeaseIdRequest(ID: EtcdInt64(lease)))
    }

    // MARK: Transport

    /// POSTs `body` as JSON to `path` on the current endpoint, moving to the next one on a
    /// connection failure, until ``requestTimeout``.
    func post<Request: Encodable, Response: Decodable>(_ path: String, _ body: Request) async throws(EtcdError) -> Response {
        let bytes: Data
        do { bytes = try JSONEncoder().encode(body) } catch { throw .malformedResponse("encoding \(path): \(error)") }
        let deadline = ContinuousClock.now + requestTimeout
        var backoff = Self.backoffInitial
        var lastFailure = "no endpoint tried"
        // Bounded by the deadline: every pass sleeps at least `backoffInitial`.
        while true {
            for _ in endpoints.indices {
                let endpoint = currentEndpoint()
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { break }
                // async-http-client retries a refused connection until the deadline it is given, so
                // each endpoint gets a share of the call's time (half of it split evenly), not all of it.
                let attempt = endpoints.count == 1 ? remaining : min(remaining, max(Self.attemptTimeoutMin, requestTimeout / (2 * endpoints.count)))
                var request = HTTPClientRequest(url: endpoint + path)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: bytes))
                let answer: (status: HTTPResponseStatus, body: ByteBuffer)
                do {
                    let response = try await httpClient.execute(request, timeout: .nanoseconds(attempt.nanoseconds))
                    answer = (response.status, try await response.body.collect(upTo: Self.responseBytesMax))
                } catch {
                    lastFailure = "\(endpoint): \(error)"
                    moveToNextEndpoint(after: endpoint, failure: lastFailure)
                    continue
                }
                markReachable(endpoint)
                guard answer.status == .ok else {
                    let wire = try? JSONDecoder().decode(WireError.self, from: Data(buffer: answer.body))
                    throw .server(code: wire?.code ?? Int(answer.status.code), message: wire?.message ?? wire?.error ?? "\(answer.status)")
                }
                do {
                    return try JSONDecoder().decode(Response.self, from: Data(buffer: answer.body))
                } catch {
                    throw .malformedResponse("\(path): \(error)")
                }
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw .unavailable(lastFailure) }
            try? await Task.sleep(for: min(backoff, remaining))
            if Task.isCancelled { throw .unavailable("cancelled; last failure \(lastFailure)") }
            backoff = min(backoff * 2, Self.backoffMax)
        }
    }

    func currentEndpoint() -> String {
        endpoints[reachability.withLock { $0.current }]
    }

    private func moveToNextEndpoint(after endpoint: String, failure: String) {
        let firstLoss = reachability.withLock { state -> Bool in
            if endpoints[state.current] == endpoint { state.current = (state.current + 1) % endpoints.count }
            defer { state.lost = true }
            return !state.lost
        }
        if firstLoss { logger.warning("etcd connection lost", metadata: ["endpoint": "\(endpoint)", "reason": "\(failure)"]) }
    }

    private func markReachable(_ endpoint: String) {
        let regained = reachability.withLock { state -> Bool in
            defer { state.lost = false }
            return state.lost
        }
        if regained { logger.notice("etcd connection regained", metadata: ["endpoint": "\(endpoint)"]) }
    }

    private static func wire(_ compare: EtcdCompare) -> WireCompare {
        var wire = WireCompare(key: compare.key.etcdBase64, target: "", result: compare.result.rawValue)
        switch compare.target {
        case .modRevision(let revision):
            wire.target = "MOD"
            wire.mod_revision = EtcdInt64(revision)
        case .createRevision(let revision):
            wire.target = "CREATE"
            wire.create_revision = EtcdInt64(revision)
        case .value(let value):
            wire.target = "VALUE"
            wire.value = value.base64EncodedString()
        }
        return wire
    }

    private static func wire(_ operation: EtcdOperation) -> WireRequestOp {
        switch operation {
        case .put(let key, let value, let lease):
            WireRequestOp(request_put: WirePutRequest(key: key.etcdBase64, value: value.base64EncodedString(), lease: lease == 0 ? nil : EtcdInt64(lease)))
        case .delete(let key):
            WireRequestOp(request_delete_range: WireDeleteRangeRequest(key: key.etcdBase64))
        case .deletePrefix(let prefix):
            WireRequestOp(request_delete_range: WireDeleteRangeRequest(key: prefix.etcdBase64, range_end: prefix.etcdPrefixEnd))
        case .get(let key):
            WireRequestOp(request_range: WireRangeRequest(key: key.etcdBase64))
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
