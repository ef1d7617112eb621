import NIOCore
import Testing
@testable import KafkaProtocol

@Suite struct RequestFrameTests {
    static func frame(_ build: (inout ByteBuffer) throws -> Void) rethrows -> ByteBuffer {
        var buffer = ByteBuffer()
        try build(&buffer)
        // Drop the size prefix: the decoder takes a frame's contents.
        return buffer.getSlice(at: 4, length: buffer.readableBytes - 4)!
    }

    @Test func headerVersionRules() {
        #expect(KafkaHeaderVersions.request(apiKey: .apiVersions, apiVersion: 3) == 2)
        #expect(KafkaHeaderVersions.request(apiKey: .apiVersions, apiVersion: 2) == 1)
        #expect(KafkaHeaderVersions.request(apiKey: .controlledShutdown, apiVersion: 0) == 0)
        #expect(KafkaHeaderVersions.request(apiKey: .metadata, apiVersion: 9) == 2)
        #expect(KafkaHeaderVersions.response(apiKey: .apiVersions, apiVersion: 3) == 0)
        #expect(KafkaHeaderVersions.response(apiKey: .fetch, apiVersion: 12) == 1)
        #expect(KafkaHeaderVersions.response(apiKey: .fetch, apiVersion: 11) == 0)
    }

    @Test func requestFrameRoundTrip() throws {
        let request = MetadataRequest(topics: [.init(name: "orders")], allowAutoTopicCreation: false)
        // AllowAutoTopicCreation exists from v4 on and is not ignorable (see the refusal test below).
        for version in Int16(4)...MetadataRequest.validVersions.upperBound {
            let bytes = try Self.frame { try KafkaRequestFrame.encode(request, version: version, correlationId: 77, clientId: "c", into: &$0) }
            let decoded = try KafkaRequestFrame.decode(bytes)
            #expect(decoded.apiKey == .metadata && decoded.apiVersion == version && decoded.correlationId == 77)
            #expect(decoded.header.clientId == "c")
            guard case .metadata(let body) = decoded.body else { Issue.record("wrong body"); continue }
            #expect(body.topics?.first?.name == "orders")
        }
    }

    @Test func unknownKeyUnsupportedVersionTruncatedAndMalformed() throws {
        var unknown = ByteBuffer()
        unknown.writeInteger(Int16(999), endianness: .big)
        unknown.writeInteger(Int16(0), endianness: .big)
        unknown.writeInteger(Int32(5), endianness: .big)
        #expect(throws: KafkaRequestFrameError.unknownApiKey(apiKey: 999, apiVersion: 0, correlationId: 5)) {
            try KafkaRequestFrame.decode(unknown)
        }
        var future = ByteBuffer()
        future.writeInteger(ApiKey.apiVersions.rawValue, endianness: .big)
        future.writeInteger(Int16(99), endianness: .big)
        future.writeInteger(Int32(6), endianness: .big)
        #expect(throws: KafkaRequestFrameError.unsupportedVersion(apiKey: .apiVersions, apiVersion: 99, correlationId: 6)) {
            try KafkaRequestFrame.decode(future)
        }
        #expect(throws: KafkaRequestFrameError.truncatedHeader(frameBytes: 3)) { try KafkaRequestFrame.decode(ByteBuffer(bytes: [0, 1, 2])) }
        // A Produce v3 frame cut inside its body.
        let produce = ProduceRequest(acks: -1, timeoutMs: 100, topicData: [.init(name: "t", partitionData: [.init(index: 0, records: ByteBuffer(bytes: [1, 2, 3]))])])
        let whole = try Self.frame { try KafkaRequestFrame.encode(produce, version: 3, correlationId: 1, clientId: nil, into: &$0) }
        for cut in 12..<whole.readableBytes {
            #expect(throws: KafkaRequestFrameError.self) { try KafkaRequestFrame.decode(whole.getSlice(at: 0, length: cut)!) }
        }
    }

    @Test func responseFrameUsesHeaderV0ForApiVersions() throws {
        let response = ApiVersionsResponse(errorCode: 35, apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        var buffer = ByteBuffer()
        try KafkaResponseFrame.encode(response, version: 3, correlationId: 9, into: &buffer)
        #expect(buffer.getInteger(at: 0, endianness: .big, as: Int32.self) == Int32(buffer.readableBytes - 4))
        // Header v0 = correlation id only, so the error code follows at byte 8.
        #expect(buffer.getInteger(at: 4, endianness: .big, as: Int32.self) == 9)
        #expect(buffer.getInteger(at: 8, endianness: .big, as: Int16.self) == 35)
        let (header, body) = try KafkaResponseFrame.decode(ApiVersionsResponse.self, version: 3, from: buffer.getSlice(at: 4, length: buffer.readableBytes - 4)!)
        #expect(header.correlationId == 9 && body == response)
    }

    /// A field a version cannot carry and that changes meaning is refused, not silently dropped.
    @Test func nonIgnorableFieldIsRefusedAtOldVersions() {
        let request = FetchRequest(topics: [], forgottenTopicsData: [.init(topic: "t", partitions: [1])])
        #expect(throws: KafkaEncodingError.fieldNotSupported(type: "FetchRequest", field: "ForgottenTopicsData", version: 6)) {
            _ = try request.encoded(version: 6)
        }
        #expect(throws: Never.self) { _ = try request.encoded(version: 7) }
    }
}
