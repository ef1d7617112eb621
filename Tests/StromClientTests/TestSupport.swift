import KafkaProtocol
import Logging
import NIOCore
import StromBroker
import StromClient
import StromStorage
import StromTestSupport
import Synchronization
import Testing

@testable import StromCLI

/// Runs `body` against a real broker in this process (``InProcessBroker``: listener on
/// 127.0.0.1, port 0; logs in a temporary directory) and always stops it.
@discardableResult
func withBroker<Result>(
    configure: (inout BrokerConfiguration) -> Void = { _ in },
    _ body: (_ port: Int) async throws -> Result
) async throws -> Result {
    let broker = try await InProcessBroker.start(logger: quietLogger, configure: configure)
    do {
        let result = try await body(broker.port)
        try await broker.stop()
        return result
    } catch {
        try? await broker.stop()
        throw error
    }
}

/// Warnings and errors only: the servers' start and stop lines would bury the test output.
let quietLogger: Logger = {
    var logger = Logger(label: "strom.client.tests")
    logger.logLevel = .warning
    return logger
}()

/// `withBroker` plus a connected client, closed at the end.
@discardableResult
func withBrokerAndClient<Result>(
    configure: (inout BrokerConfiguration) -> Void = { _ in },
    _ body: (_ client: KafkaClient, _ port: Int) async throws -> Result
) async throws -> Result {
    try await withBroker(configure: configure) { port in
        let client = try await KafkaClient.connect(host: "127.0.0.1", port: port, clientId: "client-tests")
        do {
            let result = try await body(client, port)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

/// Collects what a command writes to each stream.
final class CapturedOutput: CommandOutput {
    private let streams = Mutex<(standardOutput: String, standardError: String)>(("", ""))

    var standardOutput: String { streams.withLock { $0.standardOutput } }
    var standardError: String { streams.withLock { $0.standardError } }

    func write(_ bytes: ByteBuffer) {
        streams.withLock { $0.standardOutput += String(buffer: bytes) }
    }

    func writeError(_ text: String) {
        streams.withLock { $0.standardError += text }
    }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

extension Optional where Wrapped == ByteBuffer {
    var text: String? { map { String(buffer: $0) } }
}

/// Reads a partition from `offset` until `count` records arrived. Each fetch is a long poll the
/// broker ends when data arrives, so this waits on events; the attempt bound keeps a lost record
/// from hanging the test, and the failure shows what was read.
func fetchRecords(
    _ client: KafkaClient, topic: String, partition: Int32 = 0, from offset: Int64 = 0, count: Int, attemptsMax: Int = 40
) async throws -> [ConsumerRecord] {
    var records: [ConsumerRecord] = []
    var position = offset
    for _ in 0..<attemptsMax where records.count < count {
        let fetched = try await client.fetch(topic: topic, offsets: [partition: position], maxWaitMs: 500)
        let partitionRecords = try #require(fetched.first).result.get()
        records += partitionRecords.records
        position = partitionRecords.nextOffset
    }
    #expect(records.count == count, "read \(records.map(\.offset)) from topic \(topic) partition \(partition)")
    return records
}
