import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real etcd (Debian's `etcd-server`) on loopback ports for one test, with its data in a
/// temporary directory; ``stop()`` ends it by its pid.
///
/// Ports are found by binding port 0 and closing it, so another process may take one in between;
/// ``start(attempts:)`` tries again with new ports when etcd does not come up.
public final class EtcdTestServer: @unchecked Sendable {
    /// `127.0.0.1:port` of the client listener, as brokers take it in `--etcd`.
    public let endpoint: String
    public let clientPort: Int
    private let process: Process
    private let directory: TemporaryDirectory
    private let lock = NSLock()
    private var stopped = false

    private init(process: Process, clientPort: Int, directory: TemporaryDirectory) {
        self.process = process
        self.clientPort = clientPort
        self.endpoint = "127.0.0.1:\(clientPort)"
        self.directory = directory
    }

    /// The etcd binary: `STROM_ETCD` or `/usr/bin/etcd` (installed by scripts/install-dependencies.sh).
    public static var binary: String { ProcessInfo.processInfo.environment["STROM_ETCD"] ?? "/usr/bin/etcd" }

    /// Starts etcd and returns once it answers on its client port.
    public static func start(attempts: Int = 3) async throws -> EtcdTestServer {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestServerError("no etcd at \(binary): run scripts/install-dependencies.sh (Debian's etcd-server)")
        }
        var lastError: any Error = TestServerError("etcd never started")
        for _ in 0..<attempts {
            let directory = try TemporaryDirectory(prefix: "strom-etcd")
            let clientPort = try freeLoopbackPort()
            let peerPort = try freeLoopbackPort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--name", "strom-test", "--data-dir", "\(directory.path)/data",
                "--listen-client-urls", "http://127.0.0.1:\(clientPort)",
                "--advertise-client-urls", "http://127.0.0.1:\(clientPort)",
                "--listen-peer-urls", "http://127.0.0.1:\(peerPort)",
                "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPort)",
                "--initial-cluster", "strom-test=http://127.0.0.1:\(peerPort)",
                "--logger", "zap", "--log-outputs", "\(directory.path)/etcd.log",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let server = EtcdTestServer(process: process, clientPort: clientPort, directory: directory)
            if await server.waitUntilServing() { return server }
            let log = (try? String(contentsOfFile: "\(directory.path)/etcd.log", encoding: .utf8)) ?? ""
            lastError = TestServerError("etcd did not start on port \(clientPort): \(log.suffix(2_000))")
            server.stop()
        }
        throw lastError
    }

    /// Polls the health endpoint for up to 10 s (an event we cannot subscribe to).
    private func waitUntilServing() async -> Bool {
        let url = URL(string: "http://\(endpoint)/health")!
        for _ in 0..<200 {
            guard process.isRunning else { return false }
            if let (data, _) = try? await URLSession.shared.data(from: url),
               String(decoding: data, as: UTF8.self).contains("true") {
                return true
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Pauses etcd (SIGSTOP) or resumes it (SIGCONT): unreachable without losing its state.
    public func pause() { kill(process.processIdentifier, SIGSTOP) }
    public func resume() { kill(process.processIdentifier, SIGCONT) }

    /// Compacts etcd's history up to its current revision (watches from before it then fail).
    public func compact(revision: Int64) async throws {
        var request = URLRequest(url: URL(string: "http://\(endpoint)/v3/kv/compaction")!)
        request.httpMethod = "POST"
        request.httpBody = Data("{\"revision\":\"\(revision)\",\"physical\":true}".utf8)
        _ = try await URLSession.shared.data(for: request)
    }

    /// Ends etcd by its pid (SIGKILL: its data goes with the directory) and waits for it.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first, process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A loopback TCP port that was free a moment ago.
public func freeLoopbackPort() throws -> Int {
    let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketDescriptor >= 0 else { throw TestServerError("socket() failed: errno \(errno)") }
    defer { close(socketDescriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestServerError("bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketDescriptor, $0, &length) }
    }
    guard named == 0 else { throw TestServerError("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
