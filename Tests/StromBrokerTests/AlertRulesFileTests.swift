import Foundation
import StromTestSupport
import Testing
@testable import StromBroker

/// Reading `alerts.file`: rules, webhooks and interval from JSON; a bad file names the key and why.
@Suite struct AlertRulesFileTests {
    func load(_ json: String) async throws(AlertRulesFile.Invalid) -> AlertRulesFile.Contents {
        let directory = try! TemporaryDirectory()
        let path = directory.path + "/alerts.json"
        try! Data(json.utf8).write(to: URL(fileURLWithPath: path))
        defer { withExtendedLifetime(directory) {} }
        return try await AlertRulesFile.load(path: path)
    }

    @Test func readsRulesWebhooksAndTheGroupInterval() async throws {
        let contents = try await load("""
            {"rules": ["behind", "replicas"],
             "behind": {"groups": "billing-*", "condition": "time_lag_seconds > 30", "for": "1m",
                        "labels": ["severity=page", "team=billing"], "annotations": ["summary={group} behind"]},
             "replicas": {"condition": "partition_under_min_isr"},
             "webhooks": ["http://127.0.0.1:9095/alerts"], "group_interval": "30s"}
            """)
        #expect(contents.rules == [
            AlertRule(name: "behind", groups: "billing-*", condition: .timeLagOver(seconds: 30), forMs: 60_000,
                      labels: ["severity": "page", "team": "billing"], annotations: ["summary": "{group} behind"]),
            AlertRule(name: "replicas", condition: .partitionUnderMinInSync),
        ])
        #expect(contents.webhooks == ["http://127.0.0.1:9095/alerts"])
        #expect(contents.groupIntervalMs == 30_000)
    }

    @Test(arguments: [
        (#"{"rules": ["a"], "a": {"condition": "cpu > 9"}}"#, "a.condition"),
        (#"{"rules": ["a"], "a": {}}"#, "a.condition"),
        (#"{"rules": ["a"], "a": {"condition": "broker_down", "for": "soon"}}"#, "a.for"),
        (#"{"rules": ["a"], "a": {"condition": "broker_down", "labels": ["severity"]}}"#, "a.labels"),
        (#"{"rules": ["a", "a"], "a": {"condition": "broker_down"}}"#, "rules"),
        (#"{"rules": [], "webhooks": ["ftp://x"]}"#, "webhooks"),
        (#"{"rules": [], "group_interval": "0s"}"#, "group_interval"),
    ])
    func aBadRuleIsRefusedWithItsKey(json: String, key: String) async {
        await #expect { try await load(json) } throws: { error in (error as? AlertRulesFile.Invalid)?.key == key }
    }

    @Test func aFileThatIsNotJSONIsRefusedWithTheParsersReason() async {
        await #expect { try await load("{\"rules\": [") } throws: { error in
            guard let invalid = error as? AlertRulesFile.Invalid else { return false }
            return invalid.key.isEmpty && !invalid.reason.isEmpty
        }
    }
}
