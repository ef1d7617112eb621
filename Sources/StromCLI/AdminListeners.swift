import ArgumentParser
import AsyncHTTPClient
import Foundation
import StromBroker
import StromClient

/// `--admin HOST:PORT[,HOST:PORT...]`: the brokers' admin listeners, for the commands that show
/// what only the admin side knows (Burrow status, time lag, alerts). Without it each broker is
/// asked for its `admin.listen` through DescribeConfigs, so `--bootstrap` is all a user gives.
struct AdminOptions: ParsableArguments {
    static let environmentVariable = "STROM_ADMIN"

    @Option(name: .long, help: "Admin listeners, HOST:PORT[,HOST:PORT...] (env STROM_ADMIN; default: each broker's admin.listen).")
    var admin: String?

    /// The listeners given by the flag or the environment; nil when neither names any.
    func givenAddresses(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String]? {
        guard let text = admin ?? environment[Self.environmentVariable] else { return nil }
        let addresses = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for address in addresses {
            guard let colon = address.lastIndex(of: ":"), colon != address.startIndex, let port = Int(address[address.index(after: colon)...]),
                  (1...65_535).contains(port)
            else { throw ValidationError("--admin must be HOST:PORT, not \(address)") }
        }
        return addresses.isEmpty ? nil : addresses
    }
}

/// Where the admin listeners are and what they answer.
enum AdminListeners {
    /// Each broker's admin listener by node id: from `admin.listen` as the broker reports it,
    /// with a wildcard host replaced by the broker's advertised host. Brokers with the listener
    /// off, or that do not answer, are left out.
    static func discover(client: KafkaClient) async throws -> [Int32: String] {
        var found: [Int32: String] = [:]
        for broker in try await client.metadata(topics: []).brokers {
            guard let entry = try? await client.describeConfigs(.broker(broker.nodeId), keys: [BrokerSettings.adminListenKey]).first,
                  let value = entry.value, let colon = value.lastIndex(of: ":")
            else { continue }
            let host = String(value[..<colon])
            let reachable = ["", "0.0.0.0", "::", "[::]"].contains(host) ? broker.host : host
            found[broker.nodeId] = "\(reachable.contains(":") && !reachable.hasPrefix("[") ? "[\(reachable)]" : reachable)\(value[colon...])"
        }
        return found
    }

    /// GETs `path` from the listener at `address` and decodes its JSON.
    static func get<Value: Decodable>(_ type: Value.Type, path: String, from address: String) async throws -> Value {
        let request = HTTPClientRequest(url: "http://\(address)\(path)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else {
            throw AdminListenerError(address: address, reason: "\(path) answered \(response.status.code) \(String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return try JSONDecoder().decode(Value.self, from: Data(buffer: body))
    }
}

struct AdminListenerError: Error, CustomStringConvertible {
    var address: String
    var reason: String
    var description: String { "admin listener \(address): \(reason)" }
}
