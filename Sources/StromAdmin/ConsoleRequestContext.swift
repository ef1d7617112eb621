import Foundation
import Hummingbird
import HummingbirdAuth

/// The admin listener's request context: a console session (the signed-in role, kept by
/// hummingbird-auth's session middleware) and the role this request acts with.
typealias ConsoleRequestContext = BasicSessionRequestContext<ConsoleAccess.Role, ConsoleAccess.Role>

/// Checks every request against ``ConsoleAccess``: a session or Basic credentials where a login
/// is required (a browser is sent to `/login`, anything else gets 401), the read-only role kept
/// from every change, and the console off where it must be.
struct ConsoleAccessMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let access: ConsoleAccess

    /// Paths that never ask for a login: probes, and the login form itself.
    static let open: Set<String> = ["/health", "/ready", "/login"]
    /// The endpoints machines read (Prometheus, the CLI), served without a console too.
    static func isMachineEndpoint(_ path: String) -> Bool { path == "/metrics" || path.hasPrefix("/v1/") }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var context = context
        if Self.open.contains(path) && (path != "/login" || access.requiresLogin) {
            return try await next(request, context)
        }
        guard access.consoleEnabled else {
            if Self.isMachineEndpoint(path) { return try await next(request, context) }
            return AdminServer.text(.forbidden, "The console is off: this admin listener is not on loopback and no console.password.hash is set.\n")
        }
        guard access.requiresLogin else {
            context.identity = .admin
            return try await next(request, context)
        }
        let role = context.sessions.session ?? request.headers[.authorization].flatMap(access.role(forAuthorization:))
        guard let role else {
            if request.method == .get && !Self.isMachineEndpoint(path) {
                let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return AdminServer.redirect(to: "/login?next=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")")
            }
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Basic realm=\"strom\", charset=\"UTF-8\""
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: .init(string: "sign in first\n")))
        }
        if !role.canChange && request.method != .get && request.method != .head && path != "/logout" {
            return AdminServer.text(.forbidden, "the read-only role cannot change anything\n")
        }
        context.identity = role
        return try await next(request, context)
    }
}
