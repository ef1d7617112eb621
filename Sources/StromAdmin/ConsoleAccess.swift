import Foundation
import HummingbirdBcrypt
import Synchronization

/// Who may use the console and the admin endpoints. On a loopback listener everyone who can
/// connect is on this machine, so no login is asked. Elsewhere, `console.password.hash` (bcrypt)
/// signs in the admin role and `console.readonly.password.hash` a role that sees everything and
/// changes nothing; without either the console stays off there (the machine endpoints keep
/// answering, as before there was a console). `/health` and `/ready` never ask: supervisors and
/// load balancers cannot sign in, and they carry no data.
public final class ConsoleAccess: Sendable {
    public enum Role: String, Codable, Sendable {
        case admin
        case readOnly = "read-only"

        public var canChange: Bool { self == .admin }
    }

    /// Whether the listener's address is loopback-only (127.0.0.0/8, ::1, localhost).
    public let isLoopback: Bool
    let passwordHash: String?
    let readOnlyPasswordHash: String?
    /// The `Authorization` headers already verified (bcrypt is slow by design; Prometheus
    /// sends the same header every scrape), up to a few.
    private let verifiedBasic = Mutex<[String: Role]>([:])

    public init(host: String, passwordHash: String?, readOnlyPasswordHash: String?) {
        self.isLoopback = Self.isLoopback(host: host)
        self.passwordHash = passwordHash.flatMap { $0.isEmpty ? nil : $0 }
        self.readOnlyPasswordHash = readOnlyPasswordHash.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether a request must carry a session (or Basic credentials).
    public var requiresLogin: Bool { !isLoopback && (passwordHash != nil || readOnlyPasswordHash != nil) }

    /// Whether the console's pages are served at all: off loopback only with a password set.
    public var consoleEnabled: Bool { isLoopback || requiresLogin }

    /// The role a password signs in, nil for a wrong one.
    public func role(forPassword password: String) -> Role? {
        if let passwordHash, Bcrypt.verify(password, hash: passwordHash) { return .admin }
        if let readOnlyPasswordHash, Bcrypt.verify(password, hash: readOnlyPasswordHash) { return .readOnly }
        return nil
    }

    /// The role of an `Authorization: Basic ...` header (any user name; the password decides).
    public func role(forAuthorization header: String) -> Role? {
        if let known = verifiedBasic.withLock({ $0[header] }) { return known }
        guard header.lowercased().hasPrefix("basic "), let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let credentials = String(data: decoded, encoding: .utf8), let colon = credentials.firstIndex(of: ":"),
              let role = role(forPassword: String(credentials[credentials.index(after: colon)...]))
        else { return nil }
        verifiedBasic.withLock { verified in
            if verified.count >= 8 { verified.removeAll() }
            verified[header] = role
        }
        return role
    }

    /// The bcrypt hash of `password` (for `console.password.hash`).
    public static func hash(password: String, cost: UInt8 = 12) -> String {
        Bcrypt.hash(password, cost: cost)
    }

    static func isLoopback(host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && octets.first == "127"
    }

    /// A fresh random token (CSRF tokens), 32 bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Whether two tokens are equal, in time that does not depend on where they differ.
    static func tokensMatch(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count, !x.isEmpty else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
