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

    static let viewer = ConsoleViewer(csrfToken: "t0k3n", canChange: true)
    static let readOnly = ConsoleViewer(csrfToken: "t0k3n", canChange: false, role: "read-only")

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
        let second = TopicsPage.render(topics: topics, filter: "", page: 2, showInternal: false, viewer: Self.viewer).body
        #expect(second.contains(">t050</a></td>") && second.contains(">t099</a></td>") && !second.contains(">t100</a>"))
        #expect(second.contains("120 topics · page 2 of 3"))
        #expect(second.contains("href=\"/topics?page=1\" rel=\"prev\"") && second.contains("href=\"/topics?page=3\" rel=\"next\""))
        #expect(!second.contains("__consumer_offsets"))
        let filtered = TopicsPage.render(topics: topics, filter: "T11", page: 1, showInternal: false, viewer: Self.viewer).body
        #expect(filtered.contains("10 topics · page 1 of 1") && filtered.contains("<a href=\"/topics/t110\">t110</a>"))
        let beyond = TopicsPage.render(topics: topics, filter: "", page: 99, showInternal: true, viewer: Self.viewer).body
        #expect(beyond.contains("121 topics · page 3 of 3"), "a page past the end shows the last")
        let none = TopicsPage.render(topics: topics, filter: "<x>", page: 1, showInternal: false, viewer: Self.viewer).body
        #expect(none.contains("No topic matches “&lt;x&gt;”."))
    }

    @Test func aTopicRowSumsItsPartitions() {
        let body = TopicsPage.render(topics: [Self.topic("orders", partitions: 3, inSync: [1])], filter: "", page: 1, showInternal: false, viewer: Self.viewer).body
        #expect(body.contains("<td><a href=\"/topics/orders\">orders</a></td><td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\">6.0 KiB</td><td class=\"num\">30</td><td class=\"num\">–</td><td><span class=\"warn\">3 under-replicated</span></td>"))
    }

    @Test func aTopicPageShowsEachPartitionAndTheTopicsOwnConfigsFirst() {
        var topic = Self.topic("orders", partitions: 2, inSync: [1, 2])
        topic.partitions[1].leader = -1
        topic.partitions[1].inSyncReplicas = []
        let body = TopicPage.render(topic: topic, configs: [
            .init(name: "segment.bytes", value: "1073741824", source: "DEFAULT_CONFIG"),
            .init(name: "retention.ms", value: "<1000>", source: "DYNAMIC_TOPIC_CONFIG"),
            .init(name: "cleanup.policy", value: "delete", source: "STATIC_BROKER_CONFIG"),
        ], viewer: Self.viewer).body
        #expect(body.contains("<td class=\"num\">0</td><td class=\"num\">1</td><td>1, 2</td><td>1, 2</td><td class=\"num\">0</td><td class=\"num\">10</td>"))
        #expect(body.contains("<td class=\"num\">1</td><td class=\"num\">–</td>") && body.contains("<span class=\"bad\">no leader</span>"))
        #expect(body.contains("<div class=\"label\">Offline</div><div class=\"value bad\">1</div>"))
        let table = body[body.range(of: "<h2>Configs</h2>")!.upperBound...]
        let retention = table.range(of: "retention.ms")!, cleanup = table.range(of: "cleanup.policy")!, segment = table.range(of: "segment.bytes")!
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

    @Test func everyFormCarriesTheTokenAndTheReadOnlyRoleSeesNone() {
        let topic = Self.topic("orders", partitions: 2)
        let forAdmin = TopicPage.render(topic: topic, configs: [], viewer: Self.viewer).body
        let forms = forAdmin.components(separatedBy: "<form ").dropFirst()
        #expect(forms.count == 3, "add partitions, set config, delete")
        #expect(forms.allSatisfy { $0.contains("method=\"post\"") && $0.contains("<input type=\"hidden\" name=\"csrf\" value=\"t0k3n\">") })
        #expect(forAdmin.contains("action=\"/topics/orders/delete\"") && forAdmin.contains("name=\"confirm\""))
        #expect(forAdmin.contains("name=\"count\" value=\"3\""), "the form proposes one partition more")
        #expect(!TopicPage.render(topic: topic, configs: [], viewer: Self.readOnly).body.contains("<form"))
        #expect(!TopicsPage.render(topics: [topic], filter: "", page: 1, showInternal: false, viewer: Self.readOnly).body.contains("Create topic"))
        #expect(TopicsPage.render(topics: [topic], filter: "", page: 1, showInternal: false, viewer: Self.viewer).body.contains("Create topic"))
        let page = ConsolePage(title: "x", section: .topics, body: "", refreshSeconds: 10)
        let signedIn = page.render(clusterId: "c", nodeId: 1, viewer: Self.readOnly)
        #expect(signedIn.contains("read-only") && signedIn.contains("action=\"/logout\""))
        let noticed = page.render(clusterId: "c", nodeId: 1, viewer: .init(csrfToken: "t", canChange: true, notice: .init(isError: true, text: "<no>")))
        #expect(noticed.contains("<p class=\"notice bad\" role=\"status\">&lt;no&gt;</p>"))
        #expect(!noticed.contains("http-equiv=\"refresh\""), "a page with a notice is not reloaded under it")
    }

    @Test func theMessagesQueryIsReadFromTheLinkWithBounds() {
        let query = MessagesPage.Query(parameters: ["topic": "orders", "partition": "2", "from": "offset", "offset": "40", "format": "json", "limit": "9999"])
        #expect(query.topic == "orders" && query.partition == 2 && query.start == .offset(40) && query.format == .json)
        #expect(query.limit == MessagesPage.Query.limitMax)
        #expect(MessagesPage.Query(parameters: [:]).start == .end && MessagesPage.Query(parameters: ["from": "beginning"]).start == .beginning)
        #expect(MessagesPage.Query(parameters: ["from": "time", "time": "2026-12-07T10:30"]).start == .time(1_796_639_400_000))
        #expect(MessagesPage.Query.parseTime("2026-12-07T10:30:15") == 1_796_639_415_000)
        #expect(MessagesPage.Query.parseTime("1970-01-01T00:00") == 0 && MessagesPage.Query.parseTime("2024-02-29T00:00") == 1_709_164_800_000)
        #expect(MessagesPage.Query.parseTime("yesterday") == nil)
    }

    @Test func recordsShowAsTextPrettyJSONInWrittenOrderOrHex() {
        let json = Array(#"{"z":1,"a":[1,{"b":"x,y:{"}],"e":{},"s":"q\"}"}"#.utf8)
        #expect(RecordPresentation.prettyJSON(json) == """
            {
              "z": 1,
              "a": [
                1,
                {
                  "b": "x,y:{"
                }
              ],
              "e": {},
              "s": "q\\"}"
            }
            """)
        #expect(RecordPresentation.prettyJSON(Array("not json".utf8)) == nil)
        #expect(RecordPresentation.html(Array("<b>".utf8), as: .json).contains("&lt;b&gt;</pre><span class=\"muted\">(not JSON)</span>"))
        #expect(RecordPresentation.hexDump(Array("0123456789abcdefXY".utf8)) == """
            00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66 |0123456789abcdef|
            00000010  58 59                                            |XY|
            """)
        #expect(RecordPresentation.html(nil, as: .text).contains("null"))
        #expect(RecordPresentation.html([0xFF, 0x41], as: .text) == "<pre>\u{FFFD}A</pre>")
    }

    @Test func theMessagesPageSearchesTheLoadedRecordsAndLinksOnwards() {
        let records = (10..<14).map { offset in
            ConsoleRecord(offset: Int64(offset), timestampMs: 0, key: Array("k\(offset)".utf8), value: Array("value \(offset)".utf8),
                          headers: [.init(key: "trace", value: Array("t".utf8))])
        }
        let query = MessagesPage.Query(parameters: ["topic": "orders", "from": "offset", "offset": "10", "q": "VALUE 12", "limit": "4"])
        let body = MessagesPage.render(
            topics: ["orders"], query: query, partitionCount: 1,
            loaded: .success(.init(records: records, logStartOffset: 2, highWatermark: 20)), viewer: Self.viewer).body
        #expect(body.contains("4 loaded, 1 match"))
        #expect(body.contains("<td class=\"num\">12</td>") && !body.contains("<td class=\"num\">11</td>"))
        #expect(body.contains("<div>trace: <pre>t</pre></div>"))
        #expect(body.contains("href=\"/messages?topic=orders&amp;partition=0&amp;from=offset&amp;offset=6&amp;format=text&amp;limit=4&amp;q=VALUE%2012\">← Older"))
        #expect(body.contains("offset=14&amp;"), "newer starts after the last loaded")
        #expect(body.contains("action=\"/messages/produce\""))
        let failed = MessagesPage.render(topics: ["orders"], query: query, partitionCount: 1, loaded: .failure(.init("<down>")), viewer: Self.readOnly).body
        #expect(failed.contains("&lt;down&gt;") && !failed.contains("/messages/produce"))
    }

    @Test func aGroupPageShowsLagPerPartitionItsOwnersAndAResetForm() {
        let detail = GroupDetail(
            groupId: "billing", type: "consumer", state: "Stable", assignor: "uniform",
            members: [.init(memberId: "m1", clientId: "app-1", host: "/10.0.0.5", assignment: ["orders": [0]])],
            partitions: [
                .init(topic: "orders", partition: 1, committed: 5, logEndOffset: 9, lag: 4, timeLagSeconds: 75, status: "STOP"),
                .init(topic: "orders", partition: 0, committed: 9, logEndOffset: 9, lag: 0, timeLagSeconds: 0, status: "OK"),
            ],
            status: "ERROR", history: [.init(timeMs: 0, lag: 1, timeLagSeconds: nil), .init(timeMs: 10_000, lag: 4, timeLagSeconds: 75)],
            coordinatorId: 1, coordinatorConsole: nil)
        let body = GroupsPage.renderGroup(detail, viewer: Self.viewer).body
        #expect(body.contains("<div class=\"label\">Lag</div><div class=\"value\">4</div>"))
        #expect(body.contains("<div class=\"label\">Time lag</div><div class=\"value\">1 min 15 s</div>"))
        let zero = body.range(of: "<td class=\"num\">0</td><td class=\"num\">9</td>")!, one = body.range(of: "<td class=\"num\">1</td><td class=\"num\">5</td>")!
        #expect(zero.lowerBound < one.lowerBound, "partitions in order")
        #expect(body.contains("<span class=\"bad\">STOP</span></td><td>–</td>") && body.contains("<span class=\"ok\">OK</span></td><td>app-1</td>"))
        #expect(body.contains("<polyline"), "the lag chart")
        #expect(body.contains("action=\"/groups/billing/reset\""))
        var elsewhere = detail
        elsewhere.coordinatorId = 3
        elsewhere.coordinatorConsole = "http://10.0.0.3:9644/groups/billing"
        let remote = GroupsPage.renderGroup(elsewhere, viewer: Self.readOnly).body
        #expect(remote.contains("<a href=\"http://10.0.0.3:9644/groups/billing\">its console</a>") && !remote.contains("<form"))
        let plan = GroupsPage.renderResetPlan(groupId: "billing", topic: "orders", plan: [(0, 9, 2), (1, nil, 2)], viewer: Self.viewer).body
        #expect(plan.contains("Dry run: nothing has changed yet."))
        #expect(plan.contains("<input type=\"hidden\" name=\"apply\" value=\"0:2,1:2\">"))
    }

    @Test func groupLagHistoryKeepsAPointPerIntervalAndForgetsGroupsNoLongerHere() {
        let history = GroupLagHistory(intervalMs: 10_000, capacity: 2)
        func view(_ group: String, _ lags: [Int64]) -> GroupLagView {
            GroupLagView(group: group, status: "OK", partitions: lags.enumerated().map {
                .init(topic: "t", partition: Int32($0.offset), committedOffset: 0, logEndOffset: $0.element, lag: $0.element,
                      timeLagSeconds: Double($0.element), status: "OK")
            })
        }
        #expect(history.isDue(nowMs: 0))
        history.sample([view("a", [1, 2]), view("b", [5])], nowMs: 0)
        #expect(!history.isDue(nowMs: 9_999))
        history.sample([view("a", [100])], nowMs: 5_000)  // within the interval: not kept
        history.sample([view("a", [3, 4])], nowMs: 10_000)
        history.sample([view("a", [0, 0])], nowMs: 20_000)
        #expect(history.points(group: "a") == [.init(timeMs: 10_000, lag: 7, timeLagSeconds: 4), .init(timeMs: 20_000, lag: 0, timeLagSeconds: 0)])
        #expect(history.points(group: "b").isEmpty, "b is no longer coordinated here")
    }

    @Test func topicRatesAreTheHighWatermarksGrowthPerSecond() {
        let rates = TopicRates(intervalMs: 10_000)
        #expect(rates.recordsPerSecond().isEmpty)
        rates.sample(["a": 100, "b": 7], nowMs: 0)
        rates.sample(["a": 5_000], nowMs: 5_000)  // within the interval: not kept
        rates.sample(["a": 600, "c": 1], nowMs: 10_000)
        #expect(rates.recordsPerSecond() == ["a": 50])
    }

    @Test func aTopicOrGroupWithThousandsOfPartitionsIsPaged() {
        let topic = Self.topic("wide", partitions: 250)
        let third = TopicPage.render(topic: topic, configs: [], page: 3, viewer: Self.viewer).body
        #expect(third.contains("<tr><td class=\"num\">200</td>") && third.contains("<tr><td class=\"num\">249</td>"))
        #expect(!third.contains("<tr><td class=\"num\">199</td>"))
        #expect(third.contains("250 partitions · page 3 of 3") && third.contains("href=\"/topics/wide?page=2\" rel=\"prev\""))
        #expect(!TopicPage.render(topic: Self.topic("narrow", partitions: 3), configs: [], viewer: Self.viewer).body.contains("page 1 of"))
        let group = GroupDetail(
            groupId: "g", type: "classic", state: "Empty", assignor: "", members: [],
            partitions: (0..<150).map { .init(topic: "wide", partition: Int32($0), committed: 0, logEndOffset: 1, lag: 1) },
            status: nil, history: [], coordinatorId: 1, coordinatorConsole: nil)
        let second = GroupsPage.renderGroup(group, page: 2, viewer: Self.viewer).body
        #expect(second.contains("150 partitions · page 2 of 2") && second.contains("<td class=\"num\">100</td>") && !second.contains("<td class=\"num\">99</td>"))
        #expect(second.contains("<div class=\"label\">Lag</div><div class=\"value\">150</div>"), "the cards count every partition")
    }

    @Test func theSignInPageNamesNothingOfTheCluster() {
        let html = LoginPage.render(next: "/topics?q=\"x", failed: true, csrfToken: "t0k3n").render(clusterId: "secret-cluster", nodeId: 7)
        #expect(!html.contains("<nav>") && !html.contains("secret-cluster"))
        #expect(html.contains("Wrong password.") && html.contains("name=\"next\" value=\"/topics?q=&quot;x\""))
        #expect(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"t0k3n\">"))
    }
}
