import StromClient
import Synchronization

/// The console's Kafka client: it changes and reads the cluster through this broker's own Kafka
/// listener, as any client would, so a topic is created by the controller, a record goes to its
/// partition's leader and a group's offsets to its coordinator wherever those are. One
/// connection, made when first needed and made again after it fails.
final class ConsoleClient: Sendable {
    private let current = Mutex<Task<Result<KafkaClient, StromClientError>, Never>?>(nil)

    /// Runs `body` with the client, connecting to `host:port` first when there is none.
    func run<Value: Sendable>(
        host: String, port: Int, _ body: (KafkaClient) async throws(StromClientError) -> Value
    ) async throws(StromClientError) -> Value {
        let task = current.withLock { current in
            if let current { return current }
            let made = Task { () -> Result<KafkaClient, StromClientError> in
                do throws(StromClientError) {
                    return .success(try await KafkaClient.connect(host: host, port: port, clientId: "strom-console", requestTimeout: .seconds(30)))
                } catch {
                    return .failure(error)
                }
            }
            current = made
            return made
        }
        let client: KafkaClient
        switch await task.value {
        case .success(let connected): client = connected
        case .failure(let error):
            forget(task)
            throw error
        }
        do {
            return try await body(client)
        } catch {
            switch error {
            case .connectionClosed, .connectionFailed, .timedOut:
                // The next call starts over with a fresh connection.
                if forget(task) { await client.close() }
            default: break
            }
            throw error
        }
    }

    /// Drops `task` if it is still the current client; whether it was.
    @discardableResult
    private func forget(_ task: Task<Result<KafkaClient, StromClientError>, Never>) -> Bool {
        current.withLock { current in
            guard current == task else { return false }
            current = nil
            return true
        }
    }

    func close() async {
        guard let task = current.withLock({ current in defer { current = nil }; return current }) else { return }
        if case .success(let client) = await task.value { await client.close() }
    }
}
