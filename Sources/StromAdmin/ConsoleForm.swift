import Foundation
import Hummingbird
import StromConsole

/// The console's form plumbing: the posted fields, the CSRF check, and the notice a change leaves
/// for the page it redirects to.
enum ConsoleForm {
    /// The CSRF cookie: a random token the console's forms repeat in a hidden field. `SameSite=Strict`
    /// keeps other sites' pages from sending it, and they cannot read it to copy into a form.
    static let csrfCookie = "strom_csrf"
    /// The outcome of the last change, shown once.
    static let noticeCookie = "strom_notice"
    /// A form's body is small: a record's key, value and headers at most.
    static let bodyLimit = 1 << 20

    /// The fields of an `application/x-www-form-urlencoded` body (the last of a repeated name).
    static func fields(of request: Request) async throws -> [String: String] {
        var request = request
        let body = try await request.collectBody(upTo: bodyLimit)
        return decode(String(buffer: body))
    }

    static func decode(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            guard let name = parts.first.map(decoded), !name.isEmpty else { continue }
            fields[name] = parts.count > 1 ? decoded(parts[1]) : ""
        }
        return fields
    }

    /// The CSRF token the request's cookie holds, or nil.
    static func csrfToken(of request: Request) -> String? {
        request.cookies[csrfCookie]?.value
    }

    /// Sets the CSRF cookie to `token` when the request came without one (a new browser).
    static func setTokenCookieIfNew(on response: inout Response, token: String, request: Request) {
        guard csrfToken(of: request) == nil else { return }
        response.setCookie(Cookie(name: csrfCookie, value: token, path: "/", httpOnly: true, sameSite: .strict))
    }

    /// Whether a posted form carries the token of the cookie sent with it.
    static func hasValidToken(_ fields: [String: String], request: Request) -> Bool {
        guard let cookie = csrfToken(of: request), let field = fields[ConsoleViewer.csrfField] else { return false }
        return ConsoleAccess.tokensMatch(cookie, field)
    }

    static func noticeCookieValue(_ notice: ConsoleViewer.Notice) -> String {
        ((notice.isError ? "e:" : "k:") + notice.text).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    static func notice(of request: Request) -> ConsoleViewer.Notice? {
        guard let raw = request.cookies[noticeCookie]?.value.removingPercentEncoding, raw.count > 2 else { return nil }
        return .init(isError: raw.hasPrefix("e:"), text: String(raw.dropFirst(2)))
    }

    /// A redirect after a form (post/redirect/get) carrying `notice` to the next page.
    static func redirect(to location: String, notice: ConsoleViewer.Notice?) -> Response {
        var response = AdminServer.redirect(to: location)
        if let notice {
            response.setCookie(Cookie(name: noticeCookie, value: noticeCookieValue(notice), path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }
}
