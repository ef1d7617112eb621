/// `/messages`: a page of one partition's records from an offset, a time, the beginning or the
/// end; keys, values and headers as text, JSON (pretty-printed) or hex; the loaded page searched
/// by key or value; and a form that produces a record.
public enum MessagesPage {
    /// What the page shows, from its query (`topic`, `partition`, `from`, `offset`, `time`,
    /// `format`, `q`, `limit`).
    public struct Query: Sendable, Equatable {
        public enum Start: Sendable, Equatable {
            case beginning, end
            case offset(Int64)
            /// The first record at or after this time (ms since the epoch).
            case time(Int64)
        }

        public var topic: String?
        public var partition: Int32
        public var start: Start
        public var format: RecordFormat
        /// Keeps the loaded records whose key or value contains it (case-insensitive).
        public var search: String
        public var limit: Int

        public static let limitMax = 500

        public init(parameters: [String: String]) {
            topic = parameters["topic"].flatMap { $0.isEmpty ? nil : $0 }
            partition = max(0, parameters["partition"].flatMap(Int32.init) ?? 0)
            switch parameters["from"] {
            case "beginning": start = .beginning
            case "offset": start = .offset(max(0, parameters["offset"].flatMap(Int64.init) ?? 0))
            case "time": start = parameters["time"].flatMap(Self.parseTime).map(Start.time) ?? .end
            default: start = .end
            }
            format = parameters["format"].flatMap(RecordFormat.init(rawValue:)) ?? .text
            search = parameters["q"] ?? ""
            limit = min(max(1, parameters["limit"].flatMap(Int.init) ?? 50), Self.limitMax)
        }

        /// `YYYY-MM-DDTHH:MM[:SS]` as a datetime-local input sends it, read as UTC; or ms since the epoch.
        public static func parseTime(_ text: String) -> Int64? {
            if let milliseconds = Int64(text) { return milliseconds }
            let digits = text.split(whereSeparator: { "-T:. ".contains($0) }).map { Int($0) }
            guard digits.count >= 5, digits.allSatisfy({ $0 != nil }) else { return nil }
            let d = digits.map { $0! }
            return civilDaysSinceEpoch(year: d[0], month: d[1], day: d[2]).map { days in
                (Int64(days) * 86_400 + Int64(d[3] * 3_600 + d[4] * 60 + (d.count > 5 ? d[5] : 0))) * 1_000
            }
        }

        /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
        static func civilDaysSinceEpoch(year: Int, month: Int, day: Int) -> Int? {
            guard (1...12).contains(month), (1...31).contains(day) else { return nil }
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }

        /// The query string for a link to this view with `start` and the rest kept.
        func link(start: Start) -> String {
            var parts = ["topic=\(HTML.queryValue(topic ?? ""))", "partition=\(partition)"]
            switch start {
            case .beginning: parts.append("from=beginning")
            case .end: parts.append("from=end")
            case .offset(let offset): parts += ["from=offset", "offset=\(offset)"]
            case .time(let milliseconds): parts += ["from=time", "time=\(milliseconds)"]
            }
            parts += ["format=\(format.rawValue)", "limit=\(limit)"]
            if !search.isEmpty { parts.append("q=\(HTML.queryValue(search))") }
            return "/messages?" + parts.joined(separator: "&amp;")
        }
    }

    /// The loaded page of records and where the partition's log starts and ends.
    public struct Loaded: Sendable {
        public var records: [ConsoleRecord]
        public var logStartOffset: Int64
        public var highWatermark: Int64

        public init(records: [ConsoleRecord], logStartOffset: Int64, highWatermark: Int64) {
            self.records = records
            self.logStartOffset = logStartOffset
            self.highWatermark = highWatermark
        }
    }

    /// - Parameters: topics: the names to choose from; partitionCount: of the chosen topic;
    ///   loaded: the records, or why there are none.
    public static func render(
        topics: [String], query: Query, partitionCount: Int, loaded: Result<Loaded, ConsoleFailure>?, viewer: ConsoleViewer
    ) -> ConsolePage {
        var body = "<form class=\"change\" method=\"get\" action=\"/messages\">"
        body += "<label>Topic <select name=\"topic\">"
            + topics.map { "<option\($0 == query.topic ? " selected" : "")>\(HTML.escape($0))</option>" }.joined() + "</select></label>"
        body += "<label>Partition <select name=\"partition\">"
            + (0..<max(partitionCount, 1)).map { "<option\(Int32($0) == query.partition ? " selected" : "")>\($0)</option>" }.joined()
            + "</select></label>"
        let (from, offsetValue, timeValue): (String, String, String) = switch query.start {
        case .beginning: ("beginning", "", "")
        case .end: ("end", "", "")
        case .offset(let offset): ("offset", "\(offset)", "")
        case .time(let milliseconds): ("time", "", String(Formatting.timestamp(milliseconds).prefix(19)).replacingOccurrences(of: " ", with: "T"))
        }
        body += "<label>From <select name=\"from\">"
            + [("end", "the end (newest)"), ("beginning", "the beginning"), ("offset", "an offset"), ("time", "a time (UTC)")].map {
                "<option value=\"\($0.0)\"\($0.0 == from ? " selected" : "")>\($0.1)</option>"
            }.joined() + "</select></label>"
        body += HTML.field("Offset", name: "offset", type: "number", value: offsetValue, extra: "min=\"0\"")
        body += HTML.field("Time (UTC)", name: "time", type: "datetime-local", value: timeValue, extra: "step=\"1\"")
        body += "<label>Show as <select name=\"format\">"
            + RecordFormat.allCases.map { "<option value=\"\($0.rawValue)\"\($0 == query.format ? " selected" : "")>\($0.label)</option>" }.joined()
            + "</select></label>"
        body += HTML.field("Search key or value", name: "q", type: "search", value: query.search)
        body += HTML.field("Records", name: "limit", type: "number", value: "\(query.limit)", extra: "min=\"1\" max=\"\(Query.limitMax)\"")
        body += "<button type=\"submit\">Show</button></form>"

        guard let topic = query.topic else {
            body += "<p class=\"muted\">\(topics.isEmpty ? "No topics yet." : "Choose a topic.")</p>"
            return ConsolePage(title: "Messages", section: .messages, body: body)
        }
        switch loaded {
        case .none:
            break
        case .failure(let failure):
            body += "<p class=\"bad\">\(HTML.escape(failure.message))</p>"
        case .success(let loaded):
            body += records(loaded, query: query)
        }

        body += produceForm(topic: topic, partitionCount: partitionCount, viewer: viewer)
        return ConsolePage(title: "Messages · \(topic)", section: .messages, body: body)
    }

    private static func records(_ loaded: Loaded, query: Query) -> String {
        let needle = query.search.lowercased()
        let shown = needle.isEmpty ? loaded.records : loaded.records.filter { record in
            [record.key, record.value].contains { bytes in bytes.map { String(decoding: $0, as: UTF8.self).lowercased().contains(needle) } ?? false }
        }
        var body = "<p class=\"muted\">Partition \(query.partition): offsets \(loaded.logStartOffset) to \(loaded.highWatermark - 1) · "
            + "\(loaded.records.count) loaded"
            + (needle.isEmpty ? "" : ", \(shown.count) match “\(HTML.escape(query.search))”") + "</p>"
        body += "<div class=\"scroll\"><table class=\"records\"><thead><tr><th class=\"num\">Offset</th><th>Time (UTC)</th><th>Key</th>"
            + "<th>Value</th><th>Headers</th></tr></thead><tbody>"
        for record in shown {
            let headers = record.headers.map { header in
                "<div>\(HTML.escape(header.key)): \(RecordPresentation.html(header.value, as: query.format, markNotJSON: false))</div>"
            }.joined()
            body += "<tr><td class=\"num\">\(record.offset)</td><td>\(Formatting.timestamp(record.timestampMs))</td>"
                + "<td>\(RecordPresentation.html(record.key, as: query.format, markNotJSON: false))</td>"
                + "<td class=\"value\">\(RecordPresentation.html(record.value, as: query.format))</td><td>\(headers)</td></tr>"
        }
        if shown.isEmpty {
            let why = loaded.records.isEmpty ? "No records here." : "No loaded record matches."
            body += "<tr><td colspan=\"5\" class=\"muted\">\(why)</td></tr>"
        }
        body += "</tbody></table></div><div class=\"pager\">"
        if let first = loaded.records.first?.offset, first > loaded.logStartOffset {
            body += "<a rel=\"prev\" href=\"\(query.link(start: .offset(max(loaded.logStartOffset, first - Int64(query.limit)))))\">← Older</a>"
        }
        if let last = loaded.records.last?.offset, last + 1 < loaded.highWatermark {
            body += "<a rel=\"next\" href=\"\(query.link(start: .offset(last + 1)))\">Newer →</a>"
        }
        body += "<a href=\"\(query.link(start: .end))\">Newest</a></div>"
        return body
    }

    private static func produceForm(topic: String, partitionCount: Int, viewer: ConsoleViewer) -> String {
        let form = viewer.changeForm(
            action: "/messages/produce", submit: "Produce",
            fields: "<input type=\"hidden\" name=\"topic\" value=\"\(HTML.escape(topic))\">"
                + "<label>Partition <select name=\"partition\"><option value=\"\">by key</option>"
                + (0..<partitionCount).map { "<option>\($0)</option>" }.joined() + "</select></label>"
                + HTML.field("Key", name: "key")
                + "<label>Value <textarea name=\"value\"></textarea></label>"
                + "<label>Headers (one NAME: VALUE a line) <textarea name=\"headers\"></textarea></label>")
        return form.isEmpty ? "" : "<h2>Produce a record</h2>" + form
    }
}

/// A record as the console shows it (bytes copied out of the fetched batch: a page is at most
/// ``MessagesPage/Query/limitMax`` records).
public struct ConsoleRecord: Sendable, Equatable {
    public struct Header: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]?

        public init(key: String, value: [UInt8]?) {
            self.key = key
            self.value = value
        }
    }

    public var offset: Int64
    public var timestampMs: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [Header]

    public init(offset: Int64, timestampMs: Int64, key: [UInt8]?, value: [UInt8]?, headers: [Header]) {
        self.offset = offset
        self.timestampMs = timestampMs
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Why a page could not show what it was asked for, in a sentence.
public struct ConsoleFailure: Error, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}
