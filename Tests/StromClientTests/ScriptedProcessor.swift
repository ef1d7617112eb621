import KafkaProtocol
import NIOCore
import StromBroker
import Synchronization

/// A broker stand-in for the connection tests, so they decide when answers come:
/// - ApiVersions: answered at once; versions above `apiVersionsMax` get Kafka's refusal (a v0
///   body with UNSUPPORTED_VERSION and the supported range);
/// - Metadata: held until the test releases its first topic name (or the request is cancelled
///   because its connection closed), then answered echoing that name.
final class ScriptedProcessor: KafkaRequestProcessor {
    private struct State {
        var apiVersionsSeen: [Int16] = []
        var arrived: [String] = []
        var released: Set<String> = []
        var gates: [String: CheckedContinuation<Void, Never>] = [:]
        var arrivalWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let apiVersionsMax: Int16
    private let state = Mutex(State())

    init(apiVersionsMax: Int16 = ApiVersionsRequest.validVersions.upperBound) {
        self.apiVersionsMax = apiVersionsMax
    }

    var apiVersionsSeen: [Int16] { state.withLock { $0.apiVersionsSeen } }

    func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        switch request.body {
        case .apiVersions:
            state.withLock { $0.apiVersionsSeen.append(request.apiVersion) }
            let refused = request.apiVersion > apiVersionsMax
            let response = ApiVersionsResponse(
                errorCode: refused ? KafkaErrorCode.unsupportedVersion.rawValue : 0,
                apiKeys: [
                    .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: 12),
                    .init(apiKey: ApiKey.apiVersions.rawValue, minVersion: 0, maxVersion: apiVersionsMax),
                ])
            return respond(response, version: refused ? 0 : request.apiVersion, correlationId: request.correlationId)
        case .metadata(let metadata):
            let name = metadata.topics?.first?.name ?? ""
            await hold(name)
            let response = MetadataResponse(topics: [.init(name: name)])
            return respond(response, version: request.apiVersion, correlationId: request.correlationId)
        default:
            return .close(reason: "the scripted broker does not serve \(request.apiKey)")
        }
    }

    func processUnsupportedVersion(_ error: KafkaRequestFrameError, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        .close(reason: "\(error)")
    }

    func release(_ name: String) {
        state.withLock { state in
            state.released.insert(name)
            state.gates.removeValue(forKey: name)?.resume()
        }
    }

    /// Returns once `count` Metadata requests have arrived.
    func waitForArrivals(_ count: Int) async {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if state.arrived.count >= count { continuation.resume() } else { state.arrivalWaiters.append((count, continuation)) }
            }
        }
    }

    private func hold(_ name: String) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                state.withLock { state in
                    state.arrived.append(name)
                    if state.released.contains(name) { continuation.resume() } else { state.gates[name] = continuation }
                    let reached = state.arrived.count
                    state.arrivalWaiters.removeAll { waiter in
                        guard waiter.count <= reached else { return false }
                        waiter.continuation.resume()
                        return true
                    }
                }
            }
        } onCancel: {
            release(name)
        }
    }

    private func respond<Response: KafkaResponseMessage>(_ response: Response, version: Int16, correlationId: Int32) -> KafkaResponseAction {
        var frame = ByteBuffer()
        do {
            try KafkaResponseFrame.encode(response, version: version, correlationId: correlationId, into: &frame)
        } catch {
            return .close(reason: "cannot encode: \(error)")
        }
        return .respond(frame)
    }
}

/// Runs `body` with a server answering through `processor` on 127.0.0.1, port 0.
func withScriptedServer<Result>(
    _ processor: ScriptedProcessor, _ body: (_ server: KafkaServer, _ port: Int) async throws -> Result
) async throws -> Result {
    var configuration = KafkaServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.shutdownDrainTimeMax = .seconds(5)
    let server = KafkaServer(configuration: configuration, processor: processor, logger: quietLogger)
    guard let port = try await server.start().port else { throw ScriptedServerError.noPort }
    do {
        let result = try await body(server, port)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

enum ScriptedServerError: Error {
    case noPort
}
