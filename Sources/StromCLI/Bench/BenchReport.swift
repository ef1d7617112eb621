import Foundation
import StromClient

/// What the three benchmarks share in their output.
enum BenchReport {
    /// kbench's spelling of acks (`--acks all|1|0`), so lines from both tools read alike.
    static func name(of acks: ProduceAcks) -> String {
        switch acks {
        case .all: "all"
        case .leader: "1"
        case .unacknowledged: "0"
        }
    }

    /// The JSON fields every run starts with.
    static func commonFields(scenario: String, client: KafkaClient, topic: String) -> BenchJSONLine {
        var json = BenchJSONLine()
        json.string("scenario", scenario)
        json.string("client", "strom")
        json.string("bootstrap", "\(client.bootstrap.host):\(client.bootstrap.port)")
        json.string("topic", topic)
        return json
    }

    /// Writes the failed run's JSON line (`"ok":false` and the error) before the error goes on
    /// to the command's usual one-line report on the error stream.
    static func writeFailure(_ json: BenchJSONLine, error: any Error, to output: some CommandOutput) {
        var json = json
        json.string("error", "\(error)")
        json.bool("ok", false)
        output.write(json.line)
    }

    /// `%.Nf`, for the human lines.
    static func format(_ value: Double, decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
