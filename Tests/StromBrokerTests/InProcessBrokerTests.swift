import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing
@testable import StromBroker

/// The whole broker over TCP (``InProcessBroker``): frames through the network pipeline, Fetch
/// record data through sendfile, and a restart on the same data directory.
@Suite struct InProcessBrokerTests {
    /// Sends requests in order on one connection and returns the decoded responses.
    func exchange<Request: KafkaRequestMessage>(
        _ port: Int, _ requests: [(Request, Int16)]
    ) async throws -> [Request.Response] {
        let client = try await TestClient.connect(port: port)
        return try await client.executeThenClose { inbound, outbound in
            var responses: [Request.Response] = []
            var frames = inbound.makeAsyncIterator()
            for (index, (request, version)) in requests.enumerated() {
                var frame = ByteBuffer()
                try KafkaRequestFrame.encode(request, version: version, correlationId: Int32(index), clientId: "test", into: &frame)
                try await outbound.write(frame)
                let response = try #require(try await frames.next(), "the broker closed the connection")
                let (header, body) = try KafkaResponseFrame.decode(Request.Response.self, version: version, from: response)
                #expect(header.correlationId == Int32(index))
                responses.append(body)
            }
            return responses
        }
    }

    @Test func producedRecordsComeBackOverTheNetworkAndAfterARestart() async throws {
        var running = try await InProcessBroker.start { $0.defaultPartitionCount = 2 }
        let directory = running.dataDirectory
        do {
            let created = try await exchange(running.port, [(CreateTopicsRequest(topics: [.init(name: "net", numPartitions: 2, replicationFactor: 1)], timeoutMs: 1_000), Int16(7))])
            #expect(created[0].topics[0].errorCode == 0)
            var produces: [(ProduceRequest, Int16)] = []
            for round in 0..<20 {
                var builder = RecordBatchBuilder()
                for index in 0..<50 { builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "r\(round)-\(index)-" + String(repeating: "v", count: 200))) }
                produces.append((ProduceRequest(acks: -1, timeoutMs: 5_000, topicData: [.init(name: "net", partitionData: [.init(index: Int32(round % 2), records: try builder.build())])]), 9))
            }
            let produced = try await exchange(running.port, produces)
            #expect(produced.allSatisfy { $0.responses[0].partitionResponses[0].errorCode == 0 })

            for version: Int16 in [4, 11, 12, 16] {
                let fetchRequest: FetchRequest
                if version >= 13 {
                    let id = try #require(running.broker.partitions.topicId(name: "net"))
                    fetchRequest = FetchRequest(maxWaitMs: 100, minBytes: 1, maxBytes: 50 << 20, topics: [
                        .init(topicId: id, partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 10 << 20), .init(partition: 1, fetchOffset: 0, partitionMaxBytes: 10 << 20)]),
                    ])
                } else {
                    fetchRequest = FetchRequest(maxWaitMs: 100, minBytes: 1, maxBytes: 50 << 20, topics: [
                        .init(topic: "net", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 10 << 20), .init(partition: 1, fetchOffset: 0, partitionMaxBytes: 10 << 20)]),
                    ])
                }
                let fetched = try await exchange(running.port, [(fetchRequest, version)])[0]
                for partition in fetched.responses[0].partitions {
                    #expect(partition.errorCode == 0 && partition.highWatermark == 500, "Fetch v\(version)")
                    var records = try #require(partition.records)
                    var count = 0
                    while records.readableBytes > 0 {
                        let batch = try RecordBatch.read(from: &records)
                        try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)
                        count += Int(batch.header.recordCount)
                    }
                    #expect(count == 500, "Fetch v\(version) partition \(partition.partitionIndex)")
                }
            }
            try await running.stop()
        } catch {
            try? await running.stop()
            throw error
        }

        running = try await InProcessBroker.start(dataDirectory: directory)
        do {
            let offsets = try await exchange(running.port, [(ListOffsetsRequest(replicaId: -1, topics: [
                .init(name: "net", partitions: [.init(partitionIndex: 0, timestamp: -1), .init(partitionIndex: 1, timestamp: -1)]),
            ]), Int16(7))])
            #expect(offsets[0].topics[0].partitions.map(\.offset) == [500, 500], "every acknowledged record is back")
            try await running.stop()
        } catch {
            try? await running.stop()
            throw error
        }
    }

    /// A JoinGroup parked for the rebalance is answered NOT_COORDINATOR when its group's
    /// `__consumer_offsets` partition is unloaded (its leadership moved): left parked, it would hold
    /// the client, and a stopping broker's drain, until the rebalance timeout.
    @Test(.timeLimit(.minutes(1))) func aParkedJoinIsAnsweredWhenItsGroupsPartitionIsUnloaded() async throws {
        let running = try await InProcessBroker.start { $0.groups.initialRebalanceDelayMs = 60_000 }
        do {
            let coordinator = running.broker.groupCoordinator
            let request = JoinGroupRequest(groupId: "parked", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000, memberId: "",
                                           protocolType: "consumer", protocols: [.init(name: "range", metadata: ByteBuffer())])
            let join = Task { await coordinator.join(request, version: 3, clientId: "c", clientHost: "/127.0.0.1") }
            var waited = 0
            while await coordinator.parkedRequestCount == 0, waited < 500 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(await coordinator.parkedRequestCount == 1, "the join waits for the initial rebalance delay")
            let partitions = try #require(running.broker.coordinatorTopicPartitionCount("__consumer_offsets"))
            await coordinator.unload(GroupCoordinator.partition(for: "parked", partitionCount: partitions))
            let response = await join.value
            #expect(response.errorCode == KafkaErrorCode.notCoordinator.rawValue)
            #expect(await coordinator.parkedRequestCount == 0)
            try await running.stop()
        } catch {
            try? await running.stop()
            throw error
        }
    }
}
