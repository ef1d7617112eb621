import Testing
@testable import StromBroker

/// The alert rules on a fake clock: pending, firing after `for`, resolved, reloaded.
@Suite struct AlertEngineTests {
    static func lag(_ group: String = "billing", topic: String = "orders", partition: Int32 = 0, records: Int64 = 10, seconds: Int64?,
                    status: PartitionLagStatus = .ok) -> LagMonitor.PartitionLag {
        .init(key: .init(group: group, topic: topic, partition: partition), committedOffset: 0, logEndOffset: records, lag: records,
              timeLagMs: seconds.map { $0 * 1_000 }, status: status)
    }

    let timeLag = AlertRule(
        name: "BillingBehind", groups: "billing*", condition: .timeLagOver(seconds: 30), forMs: 10_000,
        labels: ["severity": "page"], annotations: ["summary": "{group} is {value} s behind on {topic}-{partition}"])

    @Test func pendingThenFiringAfterForThenResolved() {
        var engine = AlertEngine(rules: [timeLag])
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 5)]), nowMs: 0).isEmpty)
        #expect(engine.alerts.isEmpty, "under the threshold: nothing")
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 31)]), nowMs: 1_000).isEmpty)
        #expect(engine.alerts.map(\.isFiring) == [false], "pending")
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 40)]), nowMs: 10_999).isEmpty, "not for 10 s yet")
        let fired = engine.evaluate(.init(lag: [Self.lag(seconds: 41)]), nowMs: 11_000)
        #expect(fired == [AlertEvent(
            status: .firing,
            labels: ["alertname": "BillingBehind", "severity": "page", "group": "billing", "topic": "orders", "partition": "0"],
            annotations: ["summary": "billing is 41 s behind on orders-0"], startsAtMs: 11_000)])
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 50)]), nowMs: 12_000).isEmpty, "fires once")
        let resolved = engine.evaluate(.init(lag: [Self.lag(seconds: 0)]), nowMs: 20_000)
        #expect(resolved.map(\.status) == [.resolved])
        #expect(resolved.first?.startsAtMs == 1_000)
        #expect(resolved.first?.endsAtMs == 20_000)
        #expect(engine.alerts.isEmpty)
    }

    @Test func aConditionThatStopsHoldingWhilePendingNeverFires() {
        var engine = AlertEngine(rules: [timeLag])
        _ = engine.evaluate(.init(lag: [Self.lag(seconds: 31)]), nowMs: 0)
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 2)]), nowMs: 5_000).isEmpty, "no resolved for what never fired")
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 31)]), nowMs: 6_000).isEmpty, "pending again from now")
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 31)]), nowMs: 15_999).isEmpty)
        #expect(engine.evaluate(.init(lag: [Self.lag(seconds: 31)]), nowMs: 16_000).map(\.status) == [.firing])
    }

    @Test func patternsChooseGroupsAndTopicsAndEachPartitionIsItsOwnAlert() {
        var engine = AlertEngine(rules: [AlertRule(name: "Stopped", groups: "billing-?", topics: "ord*", condition: .status(["ERROR"]))])
        let events = engine.evaluate(.init(lag: [
            Self.lag("billing-1", partition: 0, seconds: 1, status: .stop),
            Self.lag("billing-1", partition: 1, seconds: 1, status: .stall),
            Self.lag("billing-1", partition: 2, seconds: 1, status: .warning),
            Self.lag("billing-12", seconds: 1, status: .stop),
            Self.lag("billing-2", topic: "payments", seconds: 1, status: .stop),
        ]), nowMs: 0)
        #expect(events.map { $0.labels["partition"]! }.sorted() == ["0", "1"], "for 0 s: at once; ERROR covers STOP and STALL")
        #expect(events.allSatisfy { $0.labels["group"] == "billing-1" })
        #expect(engine.alerts.map { $0.labels["partition"]! } == ["0", "1"], "firing first, then by labels")
    }

    @Test func lagInRecordsAndClusterConditions() {
        var engine = AlertEngine(rules: [
            AlertRule(name: "Lag", condition: .lagOver(records: 100)),
            AlertRule(name: "UnderMinIsr", condition: .partitionUnderMinInSync),
            AlertRule(name: "Offline", condition: .partitionOffline),
            AlertRule(name: "BrokerDown", condition: .brokerDown, labels: ["severity": "page"]),
        ])
        let events = engine.evaluate(.init(
            lag: [Self.lag(records: 100, seconds: 1), Self.lag(partition: 1, records: 101, seconds: 1)],
            partitions: [
                .init(topic: "orders", partition: 0, underMinInSync: true, offline: false),
                .init(topic: "orders", partition: 1, underMinInSync: true, offline: true),
            ],
            brokersDown: [3]), nowMs: 0)
        let fired = Set(events.map { "\($0.labels["alertname"]!) \($0.labels["partition"] ?? $0.labels["broker"]!)" })
        #expect(fired == ["Lag 1", "UnderMinIsr 0", "UnderMinIsr 1", "Offline 1", "BrokerDown 3"])
        #expect(engine.evaluate(.init(), nowMs: 1_000).filter { $0.status == .resolved }.count == 5, "all clear: all resolve")
    }

    @Test func reloadKeepsUnchangedRulesAndEndsTheOthers() {
        var engine = AlertEngine(rules: [timeLag, AlertRule(name: "Lag", condition: .lagOver(records: 1))])
        let observations = AlertObservations(lag: [Self.lag(seconds: 31)])
        _ = engine.evaluate(observations, nowMs: 0)
        #expect(engine.evaluate(observations, nowMs: 10_000).map { $0.labels["alertname"] } == ["BillingBehind"])
        var changed = timeLag
        changed.forMs = 60_000
        // BillingBehind changed (it resolves and starts over); Lag is the same (it keeps firing); Gone is new.
        let events = engine.reload([changed, AlertRule(name: "Lag", condition: .lagOver(records: 1))], nowMs: 11_000)
        #expect(events.map(\.status) == [.resolved])
        #expect(events.first?.labels["alertname"] == "BillingBehind")
        #expect(engine.alerts.map { $0.labels["alertname"] } == ["Lag"])
        #expect(engine.evaluate(observations, nowMs: 12_000).isEmpty, "BillingBehind pending for 60 s now, Lag still firing")
    }

    @Test func conditionsAreReadFromText() throws {
        #expect(try AlertRule.condition("time_lag_seconds > 30") == .timeLagOver(seconds: 30))
        #expect(try AlertRule.condition("lag >  1000") == .lagOver(records: 1_000))
        #expect(try AlertRule.condition("status in STOP,stall") == .status(["STOP", "STALL"]))
        #expect(try AlertRule.condition("status == ERROR") == .status(["ERROR"]))
        #expect(try AlertRule.condition("broker_down") == .brokerDown)
        for bad in ["time_lag_seconds >= 3", "lag > -1", "status in SLOW", "cpu > 90", ""] {
            #expect(throws: AlertRule.InvalidCondition.self) { try AlertRule.condition(bad) }
        }
    }

    @Test func globs() {
        #expect(AlertRule.matches("*", "anything"))
        #expect(AlertRule.matches("billing-*", "billing-eu"))
        #expect(!AlertRule.matches("billing-*", "shipping-eu"))
        #expect(AlertRule.matches("a?c*", "abcdef"))
        #expect(!AlertRule.matches("a?c", "abcd"))
    }
}
