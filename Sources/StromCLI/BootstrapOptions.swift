import ArgumentParser
import Foundation

/// `--bootstrap HOST:PORT[,HOST:PORT...]`, shared by every command that talks to a broker: the
/// brokers to start from, tried in turn (as Kafka's `bootstrap.servers`).
struct BootstrapOptions: ParsableArguments {
    static let environmentVariable = "STROM_BOOTSTRAP"
    static let addressDefault = "127.0.0.1:9092"

    @Option(name: .long, help: "Brokers to start from, HOST:PORT[,HOST:PORT...] (env STROM_BOOTSTRAP; default 127.0.0.1:9092).")
    var bootstrap: String?

    /// The flag, else the environment, else the default, in the order given; IPv6 hosts may be
    /// bracketed (`[::1]:9092`).
    func addresses(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [(host: String, port: Int)] {
        let text = bootstrap ?? environment[Self.environmentVariable] ?? Self.addressDefault
        let addresses = try text.split(separator: ",").map { try Self.address(String($0).trimmingCharacters(in: .whitespaces)) }
        guard !addresses.isEmpty else { throw ValidationError("--bootstrap must be HOST:PORT, not \(text)") }
        return addresses
    }

    private static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            throw ValidationError("--bootstrap must be HOST:PORT, not \(text)")
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ValidationError("--bootstrap must be HOST:PORT, not \(text)") }
        return (String(host), port)
    }
}
