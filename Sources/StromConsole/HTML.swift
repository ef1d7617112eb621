/// Text made safe for HTML, and the console's page frame: the navigation, the styles (inline, so
/// every asset ships inside the binary) and a viewport that fits a phone.
public enum HTML {
    /// `text` with the five characters HTML gives meaning to escaped (for text and attribute values).
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// A summary card: a label, a value (styled `valueStyle`: ok, warn, bad) and an optional note.
    static func card(_ label: String, _ value: String, valueStyle: String? = nil, note: (style: String, text: String)? = nil) -> String {
        let valueClass = valueStyle.map { "value \($0)" } ?? "value"
        let noteHTML = note.map { "<div class=\"\($0.style)\">\(escape($0.text))</div>" } ?? ""
        return "<div class=\"card\"><div class=\"label\">\(escape(label))</div><div class=\"\(valueClass)\">\(escape(value))</div>\(noteHTML)</div>"
    }

    /// One page of `items` (from 1, clamped to the pages there are) and the pager under a
    /// table: previous and next links made by `link`, and where this page is.
    static func paged<Item>(_ items: [Item], page: Int, pageSize: Int, noun: String, link: (Int) -> String) -> (shown: ArraySlice<Item>, pager: String) {
        let pages = max(1, (items.count + pageSize - 1) / pageSize)
        let current = min(max(1, page), pages)
        guard pages > 1 else { return (items[...], "") }
        var pager = "<div class=\"pager\">"
        if current > 1 { pager += "<a href=\"\(link(current - 1))\" rel=\"prev\">← Previous</a>" }
        pager += "<span>\(items.count) \(noun) · page \(current) of \(pages)</span>"
        if current < pages { pager += "<a href=\"\(link(current + 1))\" rel=\"next\">Next →</a>" }
        return (items.dropFirst((current - 1) * pageSize).prefix(pageSize), pager + "</div>")
    }

    /// A path segment for a link (`/topics/NAME`): topic names are [a-zA-Z0-9._-], but encode anyway.
    public static func pathSegment(_ text: String) -> String {
        text.addingPercentEncodingForQuery()
    }

    /// A query value for a link (`/topics?q=...`).
    public static func queryValue(_ text: String) -> String {
        text.addingPercentEncodingForQuery()
    }
}

/// The console's pages, for the navigation.
public enum ConsoleSection: String, CaseIterable, Sendable {
    case overview = "Overview"
    case topics = "Topics"
    case messages = "Messages"
    case groups = "Groups"
    case alerts = "Alerts"

    var path: String {
        switch self {
        case .overview: "/"
        case .topics: "/topics"
        case .messages: "/messages"
        case .groups: "/groups"
        case .alerts: "/alerts"
        }
    }
}

/// One page: its title and section, and the body's HTML (already escaped where it holds data).
public struct ConsolePage: Sendable {
    public var title: String
    public var section: ConsoleSection
    public var body: String
    /// Seconds between reloads while the page is open; nil for none (a form).
    public var refreshSeconds: Int?
    /// A page shown before sign-in: no navigation, and nothing about the cluster.
    public var isBeforeSignIn = false

    public init(title: String, section: ConsoleSection, body: String, refreshSeconds: Int? = nil) {
        self.title = title
        self.section = section
        self.body = body
        self.refreshSeconds = refreshSeconds
    }

    /// The tab icon, inline (a data URL): the browser asks for nothing else.
    static let icon = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
        + "%3Crect width='16' height='16' rx='3' fill='%232457c5'/%3E%3Cpath d='M3 10c3-4 7 2 10-2' stroke='white' stroke-width='2' fill='none'/%3E%3C/svg%3E"

    /// The whole document. Live refresh is a `<meta>` reload, so it works with JavaScript off too.
    public func render(clusterId: String, nodeId: Int32, viewer: ConsoleViewer? = nil) -> String {
        let navigation = ConsoleSection.allCases.map { section in
            let current = section == self.section ? " aria-current=\"page\"" : ""
            return "<a href=\"\(section.path)\"\(current)>\(section.rawValue)</a>"
        }.joined()
        // A page showing the outcome of a change is not reloaded: the notice would go.
        let refresh = viewer?.notice == nil ? refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? "" : ""
        let signedIn = (viewer?.role).map { role in
            "<span class=\"where\">\(HTML.escape(role))</span>"
                + (viewer?.postForm(action: "/logout", submit: "Sign out", fields: "") ?? "")
        } ?? ""
        let notice = (viewer?.notice).map { notice in
            "<p class=\"notice \(notice.isError ? "bad" : "ok")\" role=\"status\">\(HTML.escape(notice.text))</p>"
        } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">\(refresh)
            <title>\(HTML.escape(title)) · Strom</title>
            <link rel="icon" href="\(Self.icon)">
            <style>\(ConsoleStyle.css)</style></head>
            <body><header><span class="brand">Strom</span>\(isBeforeSignIn ? "" : """
            <nav>\(navigation)</nav><span class="where">cluster \(HTML.escape(clusterId)) · broker \(nodeId)</span>\(signedIn)
            """)</header>
            <main><h1>\(HTML.escape(title))</h1>\(notice)
            \(body)
            </main></body></html>
            """
    }
}

extension String {
    /// Percent-encoded for a URL query value (RFC 3986 unreserved characters kept).
    func addingPercentEncodingForQuery() -> String {
        var encoded = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(Character(Unicode.Scalar(byte)))
            default:
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }

    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
