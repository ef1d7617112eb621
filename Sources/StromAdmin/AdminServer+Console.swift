import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import StromBroker
import StromClient
import StromConsole

/// The console's routes: pages (GET) and the forms that change the cluster (POST, answered with
/// a redirect). Changes go through ``ConsoleClient``, the Kafka protocol, as any client's would.
extension AdminServer {
    func addConsoleRoutes(to router: Router<ConsoleRequestContext>) {
        router.get("/") { [self] request, context -> Response in
            await consolePage(request, context) { broker, cluster, _ in
                OverviewPage.render(
                    cluster: cluster, topics: broker.topicViews(), alerts: self.alertsView().alerts, throughput: broker.throughput.rates())
            }
        }
        router.get("/topics") { [self] request, context -> Response in
            await consolePage(request, context) { broker, _, viewer in
                TopicsPage.render(
                    topics: broker.topicViews(), filter: Self.parameters(request)["q"] ?? "",
                    page: request.uri.queryParameters.get("page", as: Int.self) ?? 1,
                    showInternal: request.uri.queryParameters.get("internal") == "1",
                    recordsPerSecond: broker.topicRates.recordsPerSecond(), viewer: viewer)
            }
        }
        router.get("/topics/:name") { [self] request, context -> Response in
            let name = try context.parameters.require("name")
            return await consolePage(request, context, notFound: "no topic \(name)") { broker, _, viewer in
                guard let topic = broker.topicViews(named: name).first, let configs = broker.topicConfigViews(named: name) else { return nil }
                return TopicPage.render(
                    topic: topic, configs: configs, page: request.uri.queryParameters.get("page", as: Int.self) ?? 1, viewer: viewer)
            }
        }
        router.get("/messages") { [self] request, context -> Response in
            await consolePage(request, context) { broker, _, viewer in
                await self.messagesPage(broker: broker, query: MessagesPage.Query(parameters: Self.parameters(request)), viewer: viewer)
            }
        }
        router.get("/groups") { [self] request, context -> Response in
            await consolePage(request, context) { broker, cluster, _ in
                let local = Dictionary(uniqueKeysWithValues: broker.groupLagViews().map { ($0.group, $0) })
                let listed = (try? await self.withClient(broker) { client throws(StromClientError) in try await client.listGroups() }) ?? []
                return GroupsPage.renderList(
                    groups: listed.map { listing in
                        GroupSummary(
                            groupId: listing.groupId, type: listing.type, state: listing.state,
                            lag: local[listing.groupId].map { $0.partitions.reduce(0) { $0 + $1.lag } }, status: local[listing.groupId]?.status)
                    }, nodeId: cluster.nodeId)
            }
        }
        router.get("/groups/:id") { [self] request, context -> Response in
            let id = try context.parameters.require("id")
            return await consolePage(request, context, notFound: "no group \(id)") { broker, _, viewer in
                do {
                    guard let detail = try await self.groupDetail(broker: broker, id: id) else { return nil }
                    return GroupsPage.renderGroup(detail, page: request.uri.queryParameters.get("page", as: Int.self) ?? 1, viewer: viewer)
                } catch {
                    return ConsolePage(title: "Group \(id)", section: .groups, body: "<p class=\"bad\">\(HTML.escape("\(error)"))</p>")
                }
            }
        }
        router.get("/alerts") { [self] request, context -> Response in
            await consolePage(request, context) { _, _, _ in
                AlertsPage.render(alerts: self.alertsView(), nowMs: Int64(Date().timeIntervalSince1970 * 1_000))
            }
        }

        router.post("/topics") { [self] request, context -> Response in
            await change(request, context) { fields, client throws(StromClientError) in
                let name = fields["name", default: ""].trimmingCharacters(in: .whitespaces)
                try await client.createTopic(NewTopic(
                    name: name, partitionCount: fields["partitions"].flatMap { Int32($0) },
                    replicationFactor: fields["replication"].flatMap { Int16($0) }))
                return ("/topics/\(HTML.pathSegment(name))", "Created topic \(name).")
            } failed: { _ in "/topics" }
        }
        router.post("/topics/:name/partitions") { [self] request, context -> Response in
            let name = try context.parameters.require("name")
            return await change(request, context) { fields, client throws(StromClientError) in
                guard let count = fields["count"].flatMap({ Int32($0) }) else { throw .invalidArgument("give the number of partitions in all") }
                try await client.createPartitions(topic: name, count: count)
                return ("/topics/\(HTML.pathSegment(name))", "Topic \(name) now has \(count) partitions.")
            } failed: { _ in "/topics/\(HTML.pathSegment(name))" }
        }
        router.post("/topics/:name/configs") { [self] request, context -> Response in
            let name = try context.parameters.require("name")
            return await change(request, context) { fields, client throws(StromClientError) in
                let key = fields["name", default: ""].trimmingCharacters(in: .whitespaces), value = fields["value", default: ""]
                try await client.incrementalAlterConfigs(.topic(name), [value.isEmpty ? .delete(name: key) : .set(name: key, value: value)])
                return ("/topics/\(HTML.pathSegment(name))", value.isEmpty ? "\(key) is back to its default." : "Set \(key) to \(value).")
            } failed: { _ in "/topics/\(HTML.pathSegment(name))" }
        }
        router.post("/topics/:name/delete") { [self] request, context -> Response in
            let name = try context.parameters.require("name")
            return await change(request, context) { fields, client throws(StromClientError) in
                guard fields["confirm"] == name else { throw .invalidArgument("type the topic's name to delete it: nothing was deleted") }
                try await client.deleteTopic(name)
                return ("/topics", "Deleted topic \(name).")
            } failed: { _ in "/topics/\(HTML.pathSegment(name))" }
        }
        router.post("/messages/produce") { [self] request, context -> Response in
            await change(request, context) { fields, client throws(StromClientError) in
                let topic = fields["topic", default: ""]
                var headers: [(String, String)] = []
                for line in fields["headers", default: ""].split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
                    guard let colon = line.firstIndex(of: ":") else { throw .invalidArgument("a header line is NAME: VALUE, not \(line)") }
                    headers.append((line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
                let key = fields["key", default: ""]
                let record = ProducerRecord(
                    key: key.isEmpty ? nil : ByteBuffer(string: key), value: ByteBuffer(string: fields["value", default: ""]),
                    headers: headers.map { .init(key: $0.0, value: ByteBuffer(string: $0.1)) },
                    partition: fields["partition"].flatMap { Int32($0) })
                guard let produced = try await client.produce(topic: topic, records: [record]).first else {
                    throw .malformedResponse(.produce, reason: "no partition answered")
                }
                let offset = try produced.baseOffset.get()
                return ("/messages?topic=\(HTML.queryValue(topic))&partition=\(produced.partition)&from=offset&offset=\(offset)",
                        "Produced to partition \(produced.partition) at offset \(offset).")
            } failed: { fields in "/messages?topic=\(HTML.queryValue(fields["topic", default: ""]))" }
        }
        router.post("/groups/:id/reset") { [self] request, context -> Response in
            let id = try context.parameters.require("id")
            return try await resetOffsets(request, context, group: id)
        }
        router.get("/login") { [self] request, _ -> Response in
            guard access.requiresLogin else { return Self.redirect(to: "/") }
            return withCSRFCookie(request) { token in
                LoginPage.render(next: Self.localPath(request.uri.queryParameters.get("next")), failed: request.uri.queryParameters.get("failed") == "1", csrfToken: token)
                    .render(clusterId: "", nodeId: broker.withLock { $0 }?.configuration.nodeId ?? -1)
            }
        }
        router.post("/login") { [self] request, context -> Response in
            let fields = try await ConsoleForm.fields(of: request)
            guard ConsoleForm.hasValidToken(fields, request: request) else { return Self.text(.forbidden, "missing or wrong CSRF token\n") }
            let next = Self.localPath(fields["next"])
            guard let role = access.role(forPassword: fields["password", default: ""]) else {
                logger.warning("console sign-in refused: wrong password")
                return Self.redirect(to: "/login?failed=1&next=\(next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")")
            }
            context.sessions.createSession(role, expiresIn: .seconds(12 * 3_600))
            logger.info("console sign-in", metadata: ["role": "\(role.rawValue)"])
            return Self.redirect(to: next)
        }
        router.post("/logout") { request, context -> Response in
            let fields = try await ConsoleForm.fields(of: request)
            guard ConsoleForm.hasValidToken(fields, request: request) else { return Self.text(.forbidden, "missing or wrong CSRF token\n") }
            context.sessions.clearSession()
            return Self.redirect(to: "/login")
        }
    }

    /// A console page for the ready broker in the frame that names the cluster, this broker and
    /// the signed-in role; 503 while the broker is not ready, 404 with `notFound` when `render`
    /// finds nothing. Sets the CSRF cookie when the browser has none and clears a shown notice.
    func consolePage(
        _ request: Request, _ context: ConsoleRequestContext, notFound: String = "not found",
        _ render: (Broker, ClusterView, ConsoleViewer) async -> ConsolePage?
    ) async -> Response {
        guard let broker = broker.withLock({ $0 }) else { return Self.text(.serviceUnavailable, "not ready\n") }
        let cluster = broker.clusterView()
        let role = context.identity ?? .readOnly
        let notice = ConsoleForm.notice(of: request)
        let token = ConsoleForm.csrfToken(of: request) ?? ConsoleAccess.randomToken()
        let viewer = ConsoleViewer(csrfToken: token, canChange: role.canChange, role: access.requiresLogin ? role.rawValue : nil, notice: notice)
        guard let page = await render(broker, cluster, viewer) else { return Self.text(.notFound, "\(notFound)\n") }
        var response = Self.html(page.render(clusterId: cluster.clusterId, nodeId: cluster.nodeId, viewer: viewer))
        ConsoleForm.setTokenCookieIfNew(on: &response, token: token, request: request)
        if notice != nil {
            response.setCookie(Cookie(name: ConsoleForm.noticeCookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }

    private func withCSRFCookie(_ request: Request, _ document: (String) -> String) -> Response {
        let token = ConsoleForm.csrfToken(of: request) ?? ConsoleAccess.randomToken()
        var response = Self.html(document(token))
        ConsoleForm.setTokenCookieIfNew(on: &response, token: token, request: request)
        return response
    }

    /// A form that changes the cluster: its CSRF token checked, `perform` run with the console's
    /// client, then a redirect to where `perform` says with its notice, or to `failed`'s
    /// location with the error.
    private func change(
        _ request: Request, _ context: ConsoleRequestContext,
        _ perform: ([String: String], KafkaClient) async throws(StromClientError) -> (location: String, notice: String),
        failed: ([String: String]) -> String
    ) async -> Response {
        let fields: [String: String]
        do {
            fields = try await ConsoleForm.fields(of: request)
        } catch {
            return Self.text(.contentTooLarge, "the form is larger than \(ConsoleForm.bodyLimit) bytes\n")
        }
        guard ConsoleForm.hasValidToken(fields, request: request) else { return Self.text(.forbidden, "missing or wrong CSRF token\n") }
        guard let broker = broker.withLock({ $0 }) else { return Self.text(.serviceUnavailable, "not ready\n") }
        do {
            let (location, notice) = try await withClient(broker) { client throws(StromClientError) in try await perform(fields, client) }
            logger.info("console: \(notice)", metadata: ["role": "\(context.identity?.rawValue ?? "-")"])
            return ConsoleForm.redirect(to: location, notice: .init(isError: false, text: notice))
        } catch {
            return ConsoleForm.redirect(to: failed(fields), notice: .init(isError: true, text: error.description))
        }
    }

    /// `body` with the console's client, connected to this broker's advertised Kafka listener.
    func withClient<Value: Sendable>(
        _ broker: Broker, _ body: (KafkaClient) async throws(StromClientError) -> Value
    ) async throws(StromClientError) -> Value {
        let cluster = broker.clusterView()
        guard let me = cluster.brokers.first(where: { $0.nodeId == cluster.nodeId }) else {
            throw .invalidArgument("broker \(cluster.nodeId) is not registered yet")
        }
        return try await consoleClient.run(host: me.host, port: Int(me.port), body)
    }

    /// The query's parameters as a browser's GET form encodes them (a space as `+`).
    static func parameters(_ request: Request) -> [String: String] {
        ConsoleForm.decode(request.uri.query ?? "")
    }

    /// `path` when it is a path of this console (never another site's address), else "/".
    static func localPath(_ path: String?) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\") else { return "/" }
        return path
    }
}
