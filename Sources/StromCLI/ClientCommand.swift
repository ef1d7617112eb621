import ArgumentParser
import StromClient

/// A command that talks to a cluster: `run()` connects to `--bootstrap`, hands the client to
/// ``execute(client:output:)``, closes it, and turns a failure into one line on stderr and exit
/// status 1. The logic lives in `execute`, which tests call with their own client and output.
protocol ClientCommand: AsyncParsableCommand {
    var connection: BootstrapOptions { get }

    func execute(client: KafkaClient, output: some CommandOutput) async throws
}

extension ClientCommand {
    mutating func run() async throws {
        let status = await runReportingErrors(output: StandardStreams())
        if status != .success { throw status }
    }

    /// Connects, executes and closes; any error becomes `strom: <message>` on the error stream.
    func runReportingErrors(output: some CommandOutput) async -> ExitCode {
        let client: KafkaClient
        do {
            let (host, port) = try connection.address()
            client = try await KafkaClient.connect(host: host, port: port, clientId: "strom-cli")
        } catch {
            output.writeError("strom: \(Self.message(for: error))\n")
            return .failure
        }
        do {
            try await execute(client: client, output: output)
            await client.close()
            return .success
        } catch {
            await client.close()
            output.writeError("strom: \(Self.message(for: error))\n")
            return .failure
        }
    }

    private static func message(for error: any Error) -> String {
        if let error = error as? ValidationError { return error.message }
        return "\(error)"
    }
}
