import ArgumentParser

/// `strom bench …`: load generators that measure a broker the way `../shared/bench`'s kbench
/// does, on the Strom client. Each run prints one human line and one `JSON {...}` line on
/// standard output; any error, lost or repeated record exits 1 with `"ok":false` in the JSON.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure produce and consume throughput and end-to-end latency.",
        subcommands: [BenchProduceCommand.self, BenchConsumeCommand.self, BenchLatencyCommand.self])
}
