import Foundation
import NIOCore
import Testing
@testable import KafkaProtocol

/// Byte vectors written by real clients (kafka-python's protocol classes, librdkafka in
/// confluent-kafka and in Debian's kcat): each decodes to the values the client was given and
/// re-encodes to the same bytes.
@Suite struct RealClientVectorTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let id: String
        let apiKey: Int16
        let version: Int16
        let isRequest: Bool
        let body: String
        let headerHex: String?
        let values: [String: String]   // JSON-encoded expected values, Sendable
        var testDescription: String { id }
    }

    static let vectors: [Vector] = (try? Fixtures.load("protocol-vectors"))?.compactMap { entry in
        guard let id = entry["id"] as? String, let apiKey = entry["apiKey"] as? Int, let version = entry["version"] as? Int,
              let kind = entry["kind"] as? String, let hex = entry["hex"] as? String else { return nil }
        let values = (entry["values"] as? [String: Any] ?? [:]).mapValues { value in
            String(decoding: (try? JSONSerialization.data(withJSONObject: [value])) ?? Data(), as: UTF8.self)
        }
        return Vector(id: id, apiKey: Int16(apiKey), version: Int16(version), isRequest: kind == "request",
                      body: hex, headerHex: entry["headerHex"] as? String, values: values)
    } ?? []

    @Test func fixtureCoversTheRequiredApisAtOldAndFlexibleVersions() throws {
        #expect(Self.vectors.count >= 40)
        let required: [ApiKey] = [.apiVersions, .metadata, .produce, .fetch, .findCoordinator, .joinGroup, .offsetCommit]
        for api in required {
            let requests = Self.vectors.filter { $0.apiKey == api.rawValue && $0.isRequest }
            #expect(requests.contains { !KafkaHeaderVersions.isFlexible(apiKey: api, apiVersion: $0.version) }, "\(api) old version")
            #expect(requests.contains { KafkaHeaderVersions.isFlexible(apiKey: api, apiVersion: $0.version) }, "\(api) flexible version")
        }
        #expect(Self.vectors.contains { $0.id.contains("librdkafka") && !$0.id.contains("kcat") })
        #expect(Self.vectors.contains { $0.id.contains("kcat") })
    }

    @Test(arguments: vectors)
    func decodesToTheClientsValuesAndReencodesIdentically(_ vector: Vector) throws {
        let apiKey = try #require(ApiKey(rawValue: vector.apiKey))
        let bytes = try Fixtures.bytes(hex: vector.body)
        var input = bytes
        let message: any KafkaApiMessage
        var output = ByteBuffer()
        if vector.isRequest {
            let body = try KafkaRequestBody(apiKey: apiKey, version: vector.version, from: &input)
            try body.write(into: &output, version: vector.version)
            message = body.message
        } else {
            let body = try KafkaResponseBody(apiKey: apiKey, version: vector.version, from: &input)
            try body.write(into: &output, version: vector.version)
            message = body.message
        }
        #expect(input.readableBytes == 0, "\(input.readableBytes) bytes left over")
        #expect(Fixtures.hex(output) == vector.body.lowercased(), "re-encoding differs")
        for (path, json) in vector.values.sorted(by: { $0.key < $1.key }) {
            let expected = try #require((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any])?.first)
            let actual = MessagePath.value(of: message, path: path)
            #expect(MessagePath.matches(actual, expected, hexPath: path.hasSuffix("(hex)")),
                    "\(path): expected \(expected), decoded \(String(describing: actual))")
        }
        if vector.isRequest, let headerHex = vector.headerHex, !headerHex.isEmpty {
            // The whole frame as the client sent it goes through the broker's frame decoder too.
            var frame = try Fixtures.bytes(hex: headerHex)
            frame.writeImmutableBuffer(bytes)
            let request = try KafkaRequestFrame.decode(frame)
            #expect(request.apiKey == apiKey && request.apiVersion == vector.version)
            var header = ByteBuffer()
            try request.header.write(into: &header, version: KafkaHeaderVersions.request(apiKey: apiKey, apiVersion: vector.version))
            #expect(Fixtures.hex(header) == headerHex.lowercased(), "request header re-encoding differs")
        }
    }
}
