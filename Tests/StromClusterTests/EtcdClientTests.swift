import Foundation
import Logging
import StromTestSupport
import Testing
@testable import StromCluster

/// The JSON-gateway client against a real etcd (Debian's etcd-server) on loopback.
@Suite(.serialized) struct EtcdClientTests {
    static let logger = Logger(label: "strom.etcd.test")

    func withEtcd(_ body: (EtcdTestServer, EtcdClient) async throws -> Void) async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        try await body(etcd, EtcdClient(endpoints: [etcd.endpoint], logger: Self.logger))
    }

    @Test func putRangeAndTransactionsThatCompareRevisions() async throws {
        try await withEtcd { _, client in
            let first = try await client.put("/t/a", Data("one".utf8))
            try await client.put("/t/b", Data("two".utf8))
            try await client.put("/u/c", Data("other prefix".utf8))
            let (keys, revision) = try await client.range("/t/", prefix: true)
            #expect(keys.map(\.key) == ["/t/a", "/t/b"])
            #expect(keys.map { String(decoding: $0.value, as: UTF8.self) } == ["one", "two"])
            #expect(keys[0].modRevision == first && revision >= first + 2)

            // A writer that read /t/a at its revision wins once; a second writer with the same
            // stale revision loses and is told what is there now.
            let update = EtcdTransaction(
                compare: [.unchanged("/t/a", since: first)], success: [.put(key: "/t/a", value: Data("1".utf8))],
                failure: [.get(key: "/t/a")])
            let won = try await client.transaction(update)
            #expect(won.succeeded && won.revision > revision)
            let lost = try await client.transaction(update)
            #expect(!lost.succeeded)
            #expect(lost.gets.first?.first.map { String(decoding: $0.value, as: UTF8.self) } == "1")

            let create = EtcdTransaction(compare: [.absent("/t/new")], success: [.put(key: "/t/new", value: Data())])
            #expect(try await client.transaction(create).succeeded)
            #expect(try await !client.transaction(create).succeeded, "created only once")

            let removed = try await client.transaction(EtcdTransaction(compare: [], success: [.deletePrefix("/t/")]))
            #expect(removed.succeeded)
            #expect(try await client.range("/t/", prefix: true).keys.isEmpty)
            #expect(try await client.range("/u/", prefix: true).keys.count == 1)
        }
    }

    @Test func leasedKeysGoWithTheirLease() async throws {
        try await withEtcd { _, client in
            let lease = try await client.grantLease(ttlSeconds: 30)
            try await client.put("/brokers/1", Data("alive".utf8), lease: lease)
            #expect(try await client.range("/brokers/1").keys.first?.lease == lease)
            #expect(try await client.keepAlive(lease: lease) > 0)
            try await client.revokeLease(lease)
            #expect(try await client.range("/brokers/1").keys.isEmpty)
            #expect(try await client.keepAlive(lease: lease) == 0, "a revoked lease has no time left")
        }
    }

    @Test func watchSeesEveryChangeInOrderAndReportsCompaction() async throws {
        try await withEtcd { etcd, client in
            let start = try await client.put("/w/a", Data("1".utf8))
            try await client.put("/w/b", Data("2".utf8))
            _ = try await client.transaction(EtcdTransaction(compare: [], success: [.delete(key: "/w/a"), .put(key: "/w/c", value: Data("3".utf8))]))
            var seen: [String] = []
            var revisions: [Int64] = []
            for try await batch in client.watch(prefix: "/w/", startRevision: start) {
                for event in batch.events {
                    seen.append("\(event.kind == .put ? "put" : "delete") \(event.keyValue.key)")
                    revisions.append(event.keyValue.modRevision)
                }
                if seen.count >= 4 { break }
            }
            #expect(seen == ["put /w/a", "put /w/b", "delete /w/a", "put /w/c"])
            #expect(revisions == [start, start + 1, start + 2, start + 2], "one transaction, one revision")

            try await etcd.compact(revision: start + 2)
            await #expect(throws: EtcdError.compacted(revision: start + 2)) {
                for try await _ in client.watch(prefix: "/w/", startRevision: start) {}
            }
        }
    }

    @Test func anUnreachableEndpointIsSkippedAndAllDownIsReportedInTime() async throws {
        let etcd = try await EtcdTestServer.start()
        defer { etcd.stop() }
        let dead = "127.0.0.1:\(try freeLoopbackPort())"
        let client = EtcdClient(endpoints: [dead, etcd.endpoint], requestTimeout: .seconds(5), logger: Self.logger)
        try await client.put("/f/x", Data("via the second endpoint".utf8))
        #expect(client.currentEndpoint() == "http://\(etcd.endpoint)")

        let alone = EtcdClient(endpoints: [dead], requestTimeout: .milliseconds(600), logger: Self.logger)
        let started = ContinuousClock.now
        await #expect(throws: EtcdError.self) { try await alone.range("/f/x") }
        #expect(ContinuousClock.now - started < .seconds(5), "the deadline bounds the retries")
    }
}
