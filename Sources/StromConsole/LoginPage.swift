/// `/login`: the password form of a console whose admin listener is off loopback.
public enum LoginPage {
    /// - Parameters: next: where to go once signed in (a path of this console); failed: after a wrong password.
    public static func render(next: String, failed: Bool, csrfToken: String) -> ConsolePage {
        var body = failed ? "<p class=\"notice bad\" role=\"alert\">Wrong password.</p>" : ""
        body += "<form class=\"change\" method=\"post\" action=\"/login\">"
            + "<input type=\"hidden\" name=\"\(ConsoleViewer.csrfField)\" value=\"\(HTML.escape(csrfToken))\">"
            + "<input type=\"hidden\" name=\"next\" value=\"\(HTML.escape(next))\">"
            + "<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus></label>"
            + "<button type=\"submit\">Sign in</button></form>"
        body += "<p class=\"muted\">This admin listener is reachable from other machines, so the console asks for the password set in "
            + "<code>console.password.hash</code> (or the read-only one in <code>console.readonly.password.hash</code>).</p>"
        var page = ConsolePage(title: "Sign in", section: .overview, body: body)
        page.isBeforeSignIn = true
        return page
    }
}
