@testable import StromBroker
import Testing
@testable import StromConsole

/// The console's pages rendered from plain views, without a server: what they show, how they
/// page and filter, and that data never becomes markup.
@Suite struct ConsolePagesTests {
    static func topic(_ name: String, partitions: Int = 1, internal isInternal: Bool = false, inSync: [Int32] = [1], leader: Int32 = 1) -> TopicView {
        TopicView(
            name: name, isInternal: isInternal, configs: ["min.insync.replicas": "2"],
            partitions: (0..<partitions).map { index in
                TopicView.Partition(
                    partition: Int32(index), leader: leader, leaderEpoch: 0, replicas: [1, 2], inSyncReplicas: inSync,
                    logStartOffset: 0, logEndOffset: 10, highWatermark: 10, sizeBytes: 2_048, offlineReason: nil)
            })
    }

    static let cluster = ClusterView(
        clusterId: "c1", controllerId: 1, nodeId: 1, brokers: [.init(nodeId: 1, host: "10.0.0.1", port: 9092, rack: "a")])

    @Test func textIsEscapedForHTML() {
        #expect(HTML.escape("<b a=\"1\">&'") == "&lt;b a=&quot;1&quot;&gt;&amp;&#39;")
        #expect(HTML.queryValue("a b&c/é") == "a%20b%26c%2F%C3%A9")
    }

    @Test func theOverviewCountsHealthAndNamesTheBrokerThatHoldsReplicasButIsGone() {
        // Broker 2 holds replicas but is not registered: down. One partition has one of two in sync.
        let page = OverviewPage.render(
            cluster: Self.cluster, topics: [Self.topic("orders", partitions: 2, inSync: [1])], alerts: [
                .init(state: "firing", labels: ["alertname": "behind", "group": "<g>"], annotations: ["summary": "late"], activeSinceMs: 0, value: 1),
                .init(state: "pending", labels: ["alertname": "soon"], annotations: [:], activeSinceMs: 0, value: 1),
            ], throughput: [])
        let html = page.render(clusterId: "c1", nodeId: 1)
        #expect(html.contains("<div class=\"label\">Under-replicated</div><div class=\"value\">2</div>"))
        #expect(html.contains("<div class=\"label\">Under min ISR</div><div class=\"value\">2</div>"))
        #expect(html.contains("<div class=\"label\">Alerts firing</div><div class=\"value\">1</div>"))
        #expect(html.contains("<td>1 (controller)</td><td class=\"ok\">alive</td><td>10.0.0.1:9092</td><td>a</td><td class=\"num\">2</td>"))
        #expect(html.contains("<td>2</td><td class=\"bad\">down</td>"))
        #expect(html.contains("group=&lt;g&gt;") && !html.contains("<g>"), "labels are escaped")
        #expect(!html.contains("soon"), "pending alerts are not firing")
        #expect(html.contains("Not enough history yet"))
    }

    @Test func topicsAreFilteredSortedAndPagedFiftyAtATime() {
        let topics = (0..<120).map { Self.topic(String(format: "t%03d", $0)) } + [Self.topic("__consumer_offsets", internal: true)]
        let second = TopicsPage.render(topics: topics, filter: "", page: 2, showInternal: false).body
        #expect(second.contains(">t050</a></td>") && second.contains(">t099</a></td>") && !second.contains(">t100</a>"))
        #expect(second.contains("120 topics · page 2 of 3"))
        #expect(second.contains("href=\"/topics?page=1\" rel=\"prev\"") && second.contains("href=\"/topics?page=3\" rel=\"next\""))
        #expect(!second.contains("__consumer_offsets"))
        let filtered = TopicsPage.render(topics: topics, filter: "T11", page: 1, showInternal: false).body
        #expect(filtered.contains("10 topics · page 1 of 1") && filtered.contains("<a href=\"/topics/t110\">t110</a>"))
        let beyond = TopicsPage.render(topics: topics, filter: "", page: 99, showInternal: true).body
        #expect(beyond.contains("121 topics · page 3 of 3"), "a page past the end shows the last")
        let none = TopicsPage.render(topics: topics, filter: "<x>", page: 1, showInternal: false).body
        #expect(none.contains("No topic matches “&lt;x&gt;”."))
    }

    @Test func aTopicRowSumsItsPartitions() {
        let body = TopicsPage.render(topics: [Self.topic("orders", partitions: 3, inSync: [1])], filter: "", page: 1, showInternal: false).body
        #expect(body.contains("<td><a href=\"/topics/orders\">orders</a></td><td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\">6.0 KiB</td><td class=\"num\">30</td><td><span class=\"warn\">3 under-replicated</span></td>"))
    }

    @Test func aTopicPageShowsEachPartitionAndTheTopicsOwnConfigsFirst() {
        var topic = Self.topic("orders", partitions: 2, inSync: [1, 2])
        topic.partitions[1].leader = -1
        topic.partitions[1].inSyncReplicas = []
        let body = TopicPage.render(topic: topic, configs: [
            .init(name: "segment.bytes", value: "1073741824", source: "DEFAULT_CONFIG"),
            .init(name: "retention.ms", value: "<1000>", source: "DYNAMIC_TOPIC_CONFIG"),
            .init(name: "cleanup.policy", value: "delete", source: "STATIC_BROKER_CONFIG"),
        ]).body
        #expect(body.contains("<td class=\"num\">0</td><td class=\"num\">1</td><td>1, 2</td><td>1, 2</td><td class=\"num\">0</td><td class=\"num\">10</td>"))
        #expect(body.contains("<td class=\"num\">1</td><td class=\"num\">–</td>") && body.contains("<span class=\"bad\">no leader</span>"))
        #expect(body.contains("<div class=\"label\">Offline</div><div class=\"value bad\">1</div>"))
        let retention = body.range(of: "retention.ms")!, cleanup = body.range(of: "cleanup.policy")!, segment = body.range(of: "segment.bytes")!
        #expect(retention.lowerBound < cleanup.lowerBound && cleanup.lowerBound < segment.lowerBound)
        #expect(body.contains("<td>&lt;1000&gt;</td><td>DYNAMIC_TOPIC_CONFIG</td>"))
    }

    @Test func theAlertsPageShowsFiringFirstThenPendingTheHistoryAndTheRules() {
        let view = AlertsView(
            file: "/etc/strom/alerts.json", rules: [.init(name: "behind", groups: "billing*", topics: "*", forMs: 60_000)],
            alerts: [
                .init(state: "pending", labels: ["alertname": "behind", "group": "billing-b"], annotations: [:], activeSinceMs: 95_000, value: 12),
                .init(state: "firing", labels: ["alertname": "behind", "group": "billing-a"], annotations: ["summary": "<late>"], activeSinceMs: 0, value: 42.25),
            ],
            history: [.init(status: "firing", labels: ["alertname": "behind", "group": "billing-a"], annotations: [:], startsAtMs: 60_000, endsAtMs: nil)])
        let body = AlertsPage.render(alerts: view, nowMs: 100_000).body
        let firing = body.range(of: "group=billing-a")!, pending = body.range(of: "group=billing-b")!
        #expect(firing.lowerBound < pending.lowerBound, "firing first")
        #expect(body.contains("<td class=\"bad\">firing</td><td>1 min 40 s</td><td class=\"num\">42.2</td>") || body.contains("<td class=\"bad\">firing</td><td>1 min 40 s</td><td class=\"num\">42.3</td>"))
        #expect(body.contains("&lt;late&gt;"))
        #expect(body.contains("<td>40 s ago</td><td class=\"bad\">firing</td><td>behind</td>"))
        #expect(body.contains("<td>behind</td><td>billing*</td><td>*</td><td>1 min 0 s</td>"))
        #expect(AlertsPage.render(alerts: AlertsView(file: nil, rules: [], alerts: []), nowMs: 0).body.contains("No alert rules"))
    }

    @Test func theChartScalesToARoundMaximumAndDrawsEachSeries() {
        #expect(LineChart.roundedUp(0) == 1 && LineChart.roundedUp(7) == 10 && LineChart.roundedUp(130) == 200 && LineChart.roundedUp(4_900) == 5_000)
        let chart = LineChart(
            series: [.init(name: "in", colour: "#000", points: [(0, 0), (10_000, 150)]), .init(name: "out", colour: "#111", points: [(0, 50), (10_000, 200)])],
            unit: { "\(Int($0))" }
        ).render(title: "t")
        #expect(chart.components(separatedBy: "<polyline").count == 3)
        #expect(chart.contains(">200</text>"), "the axis tops at 200")
        #expect(chart.contains("points=\"64.0,192.0 708.0,57.0\""), "in: 0 at the bottom, 150 of 200 up")
    }

    @Test func throughputHistoryKeepsOneSamplePerIntervalAndGivesRates() {
        let history = ThroughputHistory(intervalMs: 10_000, capacity: 3)
        history.sample(.init(recordsIn: 0, bytesIn: 0, bytesOut: 0), nowMs: 0)
        history.sample(.init(recordsIn: 5, bytesIn: 50, bytesOut: 0), nowMs: 5_000)  // within the interval: not kept
        history.sample(.init(recordsIn: 100, bytesIn: 1_000, bytesOut: 500), nowMs: 10_000)
        history.sample(.init(recordsIn: 300, bytesIn: 3_000, bytesOut: 500), nowMs: 20_000)
        history.sample(.init(recordsIn: 300, bytesIn: 3_000, bytesOut: 2_500), nowMs: 30_000)  // the oldest goes
        #expect(history.rates() == [
            .init(timeMs: 20_000, recordsInPerSecond: 20, bytesInPerSecond: 200, bytesOutPerSecond: 0),
            .init(timeMs: 30_000, recordsInPerSecond: 0, bytesInPerSecond: 0, bytesOutPerSecond: 200),
        ])
    }
}
