import ArgumentParser
import Foundation

/// `--bootstrap HOST:PORT`, shared by every command that talks to a broker.
struct BootstrapOptions: ParsableArguments {
    static let environmentVariable = "STROM_BOOTSTRAP"
    static let addressDefault = "127.0.0.1:9092"

    @Option(name: .long, help: "A broker to start from, HOST:PORT (env STROM_BOOTSTRAP; default 127.0.0.1:9092).")
    var bootstrap: String?

    /// The flag, else the environment, else the default; IPv6 hosts may be bracketed (`[::1]:9092`).
    func address(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (host: String, port: Int) {
        let text = bootstrap ?? environment[Self.environmentVariable] ?? Self.addressDefault
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            throw ValidationError("--bootstrap must be HOST:PORT, not \(text)")
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ValidationError("--bootstrap must be HOST:PORT, not \(text)") }
        return (String(host), port)
    }
}
