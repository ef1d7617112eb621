import Foundation
@testable import StromAdmin
import Testing

/// Who the console lets in, without a server: loopback detection, passwords and their roles,
/// Basic credentials, the CSRF token comparison and the form decoding.
@Suite struct ConsoleAccessTests {
    static let adminHash = ConsoleAccess.hash(password: "s3cret", cost: 4)
    static let viewerHash = ConsoleAccess.hash(password: "look", cost: 4)

    @Test func onlyLoopbackAddressesGoWithoutALogin() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"] {
            #expect(ConsoleAccess.isLoopback(host: host), "\(host)")
        }
        for host in ["0.0.0.0", "10.0.0.1", "::", "192.168.1.1", "1127.0.0.1", "example.com"] {
            #expect(!ConsoleAccess.isLoopback(host: host), "\(host)")
        }
        let loopback = ConsoleAccess(host: "127.0.0.1", passwordHash: Self.adminHash, readOnlyPasswordHash: nil)
        #expect(!loopback.requiresLogin && loopback.consoleEnabled)
        let open = ConsoleAccess(host: "0.0.0.0", passwordHash: nil, readOnlyPasswordHash: "")
        #expect(!open.requiresLogin && !open.consoleEnabled, "off loopback without a password the console is off")
        let guarded = ConsoleAccess(host: "0.0.0.0", passwordHash: nil, readOnlyPasswordHash: Self.viewerHash)
        #expect(guarded.requiresLogin && guarded.consoleEnabled)
    }

    @Test func eachPasswordSignsInItsRole() {
        let access = ConsoleAccess(host: "10.0.0.1", passwordHash: Self.adminHash, readOnlyPasswordHash: Self.viewerHash)
        #expect(access.role(forPassword: "s3cret") == .admin && access.role(forPassword: "look") == .readOnly)
        #expect(access.role(forPassword: "") == nil && access.role(forPassword: "S3cret") == nil)
        #expect(ConsoleAccess.Role.admin.canChange && !ConsoleAccess.Role.readOnly.canChange)
        let basic = "Basic " + Data("prometheus:look".utf8).base64EncodedString()
        #expect(access.role(forAuthorization: basic) == .readOnly)
        #expect(access.role(forAuthorization: basic) == .readOnly, "the second time from the cache")
        #expect(access.role(forAuthorization: "Basic " + Data("admin:nope".utf8).base64EncodedString()) == nil)
        #expect(access.role(forAuthorization: "Bearer s3cret") == nil && access.role(forAuthorization: "Basic !!!") == nil)
    }

    @Test func tokensMatchOnlyWhenEqualAndNotEmpty() {
        let token = ConsoleAccess.randomToken()
        #expect(token.count == 64 && token != ConsoleAccess.randomToken())
        #expect(ConsoleAccess.tokensMatch(token, token))
        #expect(!ConsoleAccess.tokensMatch(token, String(token.dropLast()) + "x") && !ConsoleAccess.tokensMatch(token, ""))
        #expect(!ConsoleAccess.tokensMatch("", ""))
    }

    @Test func formsAreDecodedAsBrowsersEncodeThem() {
        let fields = ConsoleForm.decode("csrf=ab&value=%7B%22a%22%3A1%7D+x&headers=k%3A+v%0D%0Ak2%3A+w&empty=&flag")
        #expect(fields == ["csrf": "ab", "value": "{\"a\":1} x", "headers": "k: v\r\nk2: w", "empty": "", "flag": ""])
    }

    @Test func aNoticeSurvivesItsCookie() {
        let notice = ConsoleForm.noticeCookieValue(.init(isError: true, text: "TOPIC_ALREADY_EXISTS (36): topic \"a; b\""))
        #expect(notice.allSatisfy { $0.isLetter || $0.isNumber || $0 == "%" })
    }

    @Test func onlyPathsOfThisConsoleAreFollowedAfterSignIn() {
        #expect(AdminServer.localPath("/topics?q=a") == "/topics?q=a")
        for outside in [nil, "", "https://evil.example/", "//evil.example/", "/\\evil.example"] {
            #expect(AdminServer.localPath(outside) == "/")
        }
    }
}
