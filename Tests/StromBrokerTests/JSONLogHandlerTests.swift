import Foundation
import Logging
import Synchronization
import Testing
@testable import StromBroker

/// `log.format=json`: each event one JSON line with the text line's fields.
@Suite struct JSONLogHandlerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk full" }
    }

    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var objects: [[String: Any]] {
            lines.withLock { $0 }.map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
    }

    func logger(_ lines: Lines, level: Logger.Level = .info) -> Logger {
        Logger(label: "strom.test") { label in
            var handler = JSONLogHandler(label: label) { line in lines.lines.withLock { $0.append(line) } }
            handler.logLevel = level
            return handler
        }
    }

    @Test func aLineIsOneObjectWithTheTextLinesFields() throws {
        let lines = Lines()
        var logger = logger(lines)
        logger[metadataKey: "node"] = "2"
        logger.warning("partition \"orders-0\" is offline\nsee below", metadata: ["topic": "orders", "partitions": ["0", "1"], "limits": ["max": "3"]])
        let texts = lines.lines.withLock { $0 }
        #expect(texts.count == 1 && texts[0].hasSuffix("\n") && texts[0].dropLast().allSatisfy { $0 != "\n" }, "one line per event")
        let object = try #require(lines.objects.first)
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "strom.test")
        #expect(object["message"] as? String == "partition \"orders-0\" is offline\nsee below")
        #expect(object["source"] as? String == "StromBrokerTests")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["node"] as? String == "2" && metadata["topic"] as? String == "orders")
        #expect(metadata["partitions"] as? [String] == ["0", "1"] && metadata["limits"] as? [String: String] == ["max": "3"])
        let time = try #require(object["time"] as? String)
        #expect(time.hasSuffix("Z") && time.contains("."), "ISO 8601 in UTC with milliseconds: \(time)")
        let parsed = try #require(try? Date(time, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        #expect(abs(parsed.timeIntervalSinceNow) < 60)
    }

    @Test func noMetadataNoMetadataKeyAndLevelsBelowTheHandlersAreDropped() {
        let lines = Lines()
        let logger = logger(lines, level: .notice)
        logger.info("not shown")
        logger.notice("shown")
        let objects = lines.objects
        #expect(objects.count == 1 && objects[0]["message"] as? String == "shown" && objects[0]["metadata"] == nil)
    }

    @Test func anErrorIsReportedAsTheStreamHandlerReportsIt() throws {
        let lines = Lines()
        logger(lines).error("flush failed", error: Failure())
        let metadata = try #require(lines.objects.first?["metadata"] as? [String: String])
        #expect(metadata["error.message"] == "disk full")
        #expect(metadata["error.type"]?.hasSuffix("JSONLogHandlerTests.Failure") == true)
    }
}
