/// Who is looking at a page: what they may do, the token every form of theirs carries, and the
/// outcome of their last change (shown once, after the redirect that follows a form).
public struct ConsoleViewer: Sendable {
    /// The CSRF token: a form without it, or with another, changes nothing.
    public var csrfToken: String
    /// False for the read-only role: forms that change the cluster are not shown (and refused).
    public var canChange: Bool
    /// The signed-in role ("admin", "read-only"), or nil where no login is needed (loopback).
    public var role: String?
    public var notice: Notice?

    public struct Notice: Sendable, Equatable {
        public var isError: Bool
        public var text: String

        public init(isError: Bool, text: String) {
            self.isError = isError
            self.text = text
        }
    }

    public init(csrfToken: String, canChange: Bool, role: String? = nil, notice: Notice? = nil) {
        self.csrfToken = csrfToken
        self.canChange = canChange
        self.role = role
        self.notice = notice
    }

    /// The name of the hidden field that carries ``csrfToken``.
    public static let csrfField = "csrf"

    /// A form that posts to `action` with the CSRF token; empty for a viewer who cannot change
    /// anything. `fields` is HTML (escaped by the caller).
    func changeForm(action: String, submit: String, danger: Bool = false, fields: String) -> String {
        guard canChange else { return "" }
        return postForm(action: action, submit: submit, danger: danger, fields: fields)
    }

    /// A form that posts to `action` with the CSRF token, for any viewer (sign out, dry runs).
    func postForm(action: String, submit: String, danger: Bool = false, fields: String) -> String {
        "<form class=\"change\" method=\"post\" action=\"\(HTML.escape(action))\">"
            + "<input type=\"hidden\" name=\"\(Self.csrfField)\" value=\"\(HTML.escape(csrfToken))\">"
            + fields + "<button type=\"submit\"\(danger ? " class=\"danger\"" : "")>\(HTML.escape(submit))</button></form>"
    }
}

extension HTML {
    /// A labelled input for a form.
    static func field(_ label: String, name: String, type: String = "text", value: String = "", required: Bool = false, extra: String = "") -> String {
        "<label>\(escape(label)) <input type=\"\(type)\" name=\"\(name)\" value=\"\(escape(value))\"\(required ? " required" : "")\(extra.isEmpty ? "" : " " + extra)></label>"
    }
}
