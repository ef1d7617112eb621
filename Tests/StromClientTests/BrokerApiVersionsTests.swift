import KafkaProtocol
import StromClient
import Testing

@Suite struct BrokerApiVersionsTests {
    @Test func picksTheHighestVersionBothSidesKnow() throws {
        let versions = BrokerApiVersions(ranges: [.metadata: 1...99, .produce: 0...5, .fetch: 4...12])
        #expect(try versions.version(for: MetadataRequest.self) == MetadataRequest.validVersions.upperBound)
        #expect(try versions.version(for: ProduceRequest.self) == 5)
        #expect(try versions.version(for: FetchRequest.self, minimum: 4) == 12)
    }

    @Test func refusesWhenTheRangesDoNotMeet() {
        let versions = BrokerApiVersions(ranges: [.produce: 0...2, .fetch: 20...30])
        #expect(throws: StromClientError.unsupportedApi(.produce, brokerVersions: 0...2, clientVersions: 3...11)) {
            try versions.version(for: ProduceRequest.self, minimum: 3)
        }
        #expect(throws: StromClientError.unsupportedApi(.fetch, brokerVersions: 20...30, clientVersions: 0...17)) {
            try versions.version(for: FetchRequest.self)
        }
        #expect(throws: StromClientError.unsupportedApi(.describeConfigs, brokerVersions: nil, clientVersions: 0...4)) {
            try versions.version(for: DescribeConfigsRequest.self)
        }
        #expect(!versions.supports(DescribeConfigsRequest.self))
    }

    @Test func readsAnApiVersionsResponseSkippingUnknownKeysAndEmptyRanges() {
        let response = ApiVersionsResponse(apiKeys: [
            .init(apiKey: ApiKey.metadata.rawValue, minVersion: 0, maxVersion: 12),
            .init(apiKey: 9_999, minVersion: 0, maxVersion: 1),
            .init(apiKey: ApiKey.fetch.rawValue, minVersion: 5, maxVersion: 4),
        ])
        #expect(BrokerApiVersions(response).ranges == [.metadata: 0...12])
    }

    @Test func errorsReadAsOneLineWithTheKafkaName() {
        let error = StromClientError.kafka(.topicAlreadyExists, resource: "topic \"orders\"", message: nil)
        #expect(error.description == "TOPIC_ALREADY_EXISTS (36): topic \"orders\": \(KafkaErrorCode.topicAlreadyExists.message)")
        #expect(error.kafkaErrorCode == .topicAlreadyExists)
        #expect(StromClientError.unsupportedApi(.describeConfigs, brokerVersions: nil, clientVersions: 0...4).description
            == "UNSUPPORTED_VERSION: the broker does not serve DescribeConfigs")
    }
}
