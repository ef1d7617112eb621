import Hummingbird
import NIOCore
import StromBroker
import StromClient
import StromConsole

/// What the console's messages and groups pages read through the Kafka protocol, and the reset
/// of a group's offsets (a dry run, then exactly the plan it showed).
extension AdminServer {
    func messagesPage(broker: Broker, query: MessagesPage.Query, viewer: ConsoleViewer) async -> ConsolePage {
        let topics = broker.topicViews().filter { !$0.isInternal }.map(\.name)
        guard let name = query.topic else {
            return MessagesPage.render(topics: topics, query: query, partitionCount: 0, loaded: nil, viewer: viewer)
        }
        guard let topic = broker.topicViews(named: name).first else {
            return MessagesPage.render(topics: topics, query: query, partitionCount: 0, loaded: .failure(.init("No topic \(name).")), viewer: viewer)
        }
        let loaded: Result<MessagesPage.Loaded, ConsoleFailure>
        do {
            loaded = .success(try await withClient(broker) { client throws(StromClientError) in
                try await Self.loadRecords(client: client, query: query, topic: name)
            })
        } catch {
            loaded = .failure(.init(error.description))
        }
        return MessagesPage.render(topics: topics, query: query, partitionCount: topic.partitions.count, loaded: loaded, viewer: viewer)
    }

    /// Up to `query.limit` records of the partition from where the query starts, read with Fetch
    /// from its leader (a bounded number of round trips).
    static func loadRecords(client: KafkaClient, query: MessagesPage.Query, topic: String) async throws(StromClientError) -> MessagesPage.Loaded {
        let partition = query.partition
        let low = try await client.listOffsets(topic: topic, partitions: [partition], spec: .earliest)[partition]?.get().offset ?? 0
        let high = try await client.listOffsets(topic: topic, partitions: [partition], spec: .latest)[partition]?.get().offset ?? low
        let start: Int64
        switch query.start {
        case .beginning: start = low
        case .end: start = max(low, high - Int64(query.limit))
        case .offset(let offset): start = min(max(offset, low), high)
        case .time(let milliseconds):
            start = try await client.listOffsets(topic: topic, partitions: [partition], spec: .timestamp(milliseconds))[partition]?.get().offset ?? high
        }
        var records: [ConsoleRecord] = []
        var next = start
        for _ in 0..<20 where records.count < query.limit && next < high {
            guard let fetched = try await client.fetch(topic: topic, offsets: [partition: next], maxWaitMs: 0).first else { break }
            let result = try fetched.result.get()
            for record in result.records where record.offset >= start && records.count < query.limit {
                records.append(ConsoleRecord(
                    offset: record.offset, timestampMs: record.timestampMs, key: record.key.map { Array($0.readableBytesView) },
                    value: record.value.map { Array($0.readableBytesView) },
                    headers: record.headers.map { .init(key: $0.key, value: $0.value.map { Array($0.readableBytesView) }) }))
            }
            guard result.nextOffset > next else { break }
            next = result.nextOffset
        }
        return MessagesPage.Loaded(records: records, logStartOffset: low, highWatermark: high)
    }

    /// The group as its coordinator describes it, with the lag this broker evaluates when it is
    /// the coordinator; nil when no broker knows the group.
    func groupDetail(broker: Broker, id: String) async throws(StromClientError) -> GroupDetail? {
        let nodeId = broker.clusterView().nodeId
        let local = broker.groupLagViews().first { $0.group == id }
        return try await withClient(broker) { client throws(StromClientError) -> GroupDetail? in
            guard let listing = try await client.listGroups().first(where: { $0.groupId == id }) else { return nil }
            let coordinatorId = try await client.coordinatorId(ofGroup: id)
            var partitions: [GroupDetail.Partition] = []
            let state: String, assignor: String, members: [GroupDetail.Member]
            if listing.type == "share" {
                let description = try await client.describeShareGroup(id)
                (state, assignor) = (description.state, description.assignor)
                members = description.members.map { .init(memberId: $0.memberId, clientId: $0.clientId, host: $0.host, assignment: $0.assignment) }
                for (topic, offsets) in try await client.shareGroupOffsets(group: id) {
                    for (partition, offset) in offsets {
                        partitions.append(.init(
                            topic: topic, partition: partition, committed: offset.startOffset >= 0 ? offset.startOffset : nil, logEndOffset: nil,
                            lag: offset.lag >= 0 ? offset.lag : nil))
                    }
                }
            } else {
                let description = try await client.describeGroup(id)
                (state, assignor) = (description.state, description.assignor)
                members = description.members.map { .init(memberId: $0.memberId, clientId: $0.clientId, host: $0.host, assignment: $0.assignment) }
                for (topic, committed) in try await client.committedOffsets(group: id) {
                    let ends = try await client.listOffsets(topic: topic, partitions: committed.keys.sorted(), spec: .latest)
                    for (partition, offset) in committed {
                        let end = try? ends[partition]?.get().offset
                        partitions.append(.init(
                            topic: topic, partition: partition, committed: offset, logEndOffset: end, lag: end.map { max(0, $0 - offset) }))
                    }
                }
            }
            var console: String?
            if coordinatorId == nodeId, let local {
                // This broker evaluates the group's lag: its time lag and status per partition.
                let evaluations = Dictionary(local.partitions.map { ("\($0.topic)/\($0.partition)", $0) }, uniquingKeysWith: { first, _ in first })
                for index in partitions.indices {
                    guard let evaluated = evaluations["\(partitions[index].topic)/\(partitions[index].partition)"] else { continue }
                    partitions[index].timeLagSeconds = evaluated.timeLagSeconds
                    partitions[index].status = evaluated.status
                    if partitions[index].logEndOffset == nil { partitions[index].logEndOffset = evaluated.logEndOffset }
                }
            } else if coordinatorId != nodeId,
                      let entry = try? await client.describeConfigs(.broker(coordinatorId), keys: [BrokerSettings.adminListenKey]).first,
                      let address = entry.value, !address.isEmpty {
                console = "http://\(address)/groups/\(HTML.pathSegment(id))"
            }
            return GroupDetail(
                groupId: id, type: listing.type, state: state, assignor: assignor, members: members, partitions: partitions,
                status: coordinatorId == nodeId ? local?.status : nil,
                history: coordinatorId == nodeId ? broker.groupLag.points(group: id) : [], coordinatorId: coordinatorId,
                coordinatorConsole: coordinatorId == nodeId ? nil : (console ?? ""))
        }
    }

    /// `POST /groups/ID/reset`: without `apply`, plans the move and shows the plan (nothing
    /// changes); with `apply` (the plan's PARTITION:OFFSET list), commits exactly those offsets,
    /// while the group has no active members, as Kafka's tool requires.
    func resetOffsets(_ request: Request, _ context: ConsoleRequestContext, group: String) async throws -> Response {
        let fields = try await ConsoleForm.fields(of: request)
        guard ConsoleForm.hasValidToken(fields, request: request) else { return Self.text(.forbidden, "missing or wrong CSRF token\n") }
        guard let broker = broker.withLock({ $0 }) else { return Self.text(.serviceUnavailable, "not ready\n") }
        let groupPath = "/groups/\(HTML.pathSegment(group))"
        let topic = fields["topic", default: ""]
        do throws(StromClientError) {
            if let apply = fields["apply"] {
                var offsets: [Int32: Int64] = [:]
                for entry in apply.split(separator: ",") {
                    let parts = entry.split(separator: ":")
                    guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1]) else {
                        throw .invalidArgument("not PARTITION:OFFSET: \(entry)")
                    }
                    offsets[partition] = offset
                }
                try await withClient(broker) { client throws(StromClientError) in
                    let members = try await client.describeGroup(group).members.count
                    guard members == 0 else {
                        throw .invalidArgument("group \(group) has \(members) active members: offsets can only be reset while it has none")
                    }
                    try await client.commitOffsets(group: group, topic: topic, offsets: offsets)
                }
                logger.info("console: reset offsets", metadata: ["group": "\(group)", "topic": "\(topic)", "offsets": "\(apply)"])
                return ConsoleForm.redirect(to: groupPath, notice: .init(isError: false, text: "Committed new offsets for \(topic): \(apply)."))
            }
            let value = fields["value"].flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
            let target: OffsetResetTarget
            switch fields["to"] {
            case "earliest": target = .earliest
            case "latest": target = .latest
            case "offset":
                guard let value else { throw .invalidArgument("give the offset") }
                target = .offset(value)
            case "shift":
                guard let value else { throw .invalidArgument("give the number of records to shift by") }
                target = .shift(value)
            case "time":
                guard let time = fields["time"].flatMap(MessagesPage.Query.parseTime) else { throw .invalidArgument("give the time") }
                target = .timestamp(time)
            default: throw .invalidArgument("choose where to reset to")
            }
            let plan = try await withClient(broker) { client throws(StromClientError) in
                try await client.planOffsetReset(group: group, topic: topic, to: target)
            }
            return await consolePage(request, context) { _, _, viewer in
                GroupsPage.renderResetPlan(
                    groupId: group, topic: topic, plan: plan.map { ($0.partition, $0.current, $0.planned) }, viewer: viewer)
            }
        } catch {
            return ConsoleForm.redirect(to: groupPath, notice: .init(isError: true, text: error.description))
        }
    }
}
