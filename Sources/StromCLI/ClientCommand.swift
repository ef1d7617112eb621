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
            client = try await Self.connect(to: try connection.addresses())
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

    /// The first broker of the list that answers; the last one's error when none does.
    private static func connect(to addresses: [(host: String, port: Int)]) async throws -> KafkaClient {
        var lastError: (any Error)?
        for address in addresses {
            do {
                return try await KafkaClient.connect(host: address.host, port: address.port, clientId: "strom-cli")
            } catch {
                lastError = error
            }
        }
        throw lastError ?? ValidationError("no broker to connect to")
    }

    private static func message(for error: any Error) -> String {
        if let error = error as? ValidationError { return error.message }
        return "\(error)"
    }
}
