import Foundation
import KafkaProtocol
import StromCluster
import StromStorage

/// AlterConfigs (replace a resource's overrides) and IncrementalAlterConfigs (SET, DELETE,
/// APPEND, SUBTRACT per key) for topics, brokers and groups (the share-group configs, for a group
/// that may not exist yet, as in Kafka). On a broker (its node id, or "" for every
/// broker) only the topic defaults may change at run time (`log.retention.ms`,
/// `message.max.bytes`, ...); the others are refused with INVALID_REQUEST, as Kafka does.
struct AlterConfigsHandler: Sendable {
    let broker: Broker

    /// One key's requested change, whichever API carried it.
    struct Change {
        var name: String
        var operation: Int8
        var value: String?
    }

    /// The outcome for one resource.
    struct Outcome {
        var errorCode: KafkaErrorCode = .none
        var errorMessage: String?

        static func failure(_ code: KafkaErrorCode, _ message: String) -> Outcome {
            Outcome(errorCode: code, errorMessage: message)
        }
    }

    func handle(_ request: AlterConfigsRequest) async -> AlterConfigsResponse {
        var response = AlterConfigsResponse(responses: [])
        let duplicates = Self.duplicateResources(request.resources.map { ($0.resourceType, $0.resourceName) })
        for resource in request.resources {
            let changes = resource.configs.map { Change(name: $0.name, operation: ConfigOperation.set.rawValue, value: $0.value) }
            let outcome = duplicates.contains(Self.key(resource.resourceType, resource.resourceName))
                ? .failure(.invalidRequest, "resource \(resource.resourceName) appears more than once in the request")
                : await alter(type: resource.resourceType, name: resource.resourceName, changes: changes, replacing: true, validateOnly: request.validateOnly)
            response.responses.append(.init(
                errorCode: outcome.errorCode.rawValue, errorMessage: outcome.errorMessage,
                resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        return response
    }

    func handle(_ request: IncrementalAlterConfigsRequest) async -> IncrementalAlterConfigsResponse {
        var response = IncrementalAlterConfigsResponse(responses: [])
        let duplicates = Self.duplicateResources(request.resources.map { ($0.resourceType, $0.resourceName) })
        for resource in request.resources {
            let changes = resource.configs.map { Change(name: $0.name, operation: $0.configOperation, value: $0.value) }
            let outcome = duplicates.contains(Self.key(resource.resourceType, resource.resourceName))
                ? .failure(.invalidRequest, "resource \(resource.resourceName) appears more than once in the request")
                : await alter(type: resource.resourceType, name: resource.resourceName, changes: changes, replacing: false, validateOnly: request.validateOnly)
            response.responses.append(.init(
                errorCode: outcome.errorCode.rawValue, errorMessage: outcome.errorMessage,
                resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        return response
    }

    private static func key(_ type: Int8, _ name: String) -> String { "\(type)/\(name)" }

    private static func duplicateResources(_ resources: [(Int8, String)]) -> Set<String> {
        let counts = Dictionary(resources.map { (key($0.0, $0.1), 1) }, uniquingKeysWith: +)
        return Set(counts.filter { $0.value > 1 }.keys)
    }

    /// - Parameter replacing: AlterConfigs semantics: overrides not named return to their default.
    private func alter(type: Int8, name: String, changes: [Change], replacing: Bool, validateOnly: Bool) async -> Outcome {
        let names = changes.map(\.name)
        guard Set(names).count == names.count else {
            return .failure(.invalidRequest, "a config key appears more than once for \(name)")
        }
        // What differs between a topic and a broker: the values the resource sets itself, what a
        // key inherits, which keys are lists, and where the result goes.
        let own: [String: String]
        let current: (String) -> String?
        let isList: (String) -> Bool
        let apply: ([String: String], Set<String>) async -> MetadataError?
        switch ConfigResourceType(rawValue: type) {
        case .topic?:
            guard let overrides = broker.topicConfigs(name) else {
                return .failure(.unknownTopicOrPartition, "topic \(name) does not exist")
            }
            let defaults = broker.logDefaults.properties
            own = overrides
            current = { overrides[$0] ?? defaults[$0] }
            isList = { key in LogConfig.keys.first { $0.name == key }?.type == .list }
            apply = { set, remove in
                if case .failure(let error) = await broker.alterTopicConfigs(topic: name, set: set, remove: remove, validateOnly: validateOnly) {
                    return error
                }
                return nil
            }
        case .broker?:
            // In a cluster the dynamic configs of every broker live in etcd: any broker may change
            // another's (that broker applies them when it sees the change), as Kafka's controller does.
            let otherBroker = broker.cluster != nil && Int32(name).map { $0 >= 0 } == true
            guard name.isEmpty || name == String(broker.configuration.nodeId) || otherBroker else {
                return .failure(.invalidRequest, "unexpected broker id \(name), this is broker \(broker.configuration.nodeId)")
            }
            let dynamic = broker.dynamicBrokerConfigs(name)
            let defaults = broker.logDefaults.properties
            let logKeys = Dictionary(uniqueKeysWithValues: LogConfig.keys.map { ($0.serverDefaultProperty, $0) })
            own = dynamic
            current = { key in dynamic[key] ?? logKeys[key].flatMap { defaults[$0.name] } }
            isList = { logKeys[$0]?.type == .list }
            apply = { set, remove in
                if case .failure(let error) = await broker.alterBrokerConfigs(resource: name, set: set, remove: remove, validateOnly: validateOnly) {
                    return error
                }
                return nil
            }
        case .group?:
            guard !name.isEmpty else { return .failure(.invalidRequest, "a group config names its group") }
            let overrides = broker.groupConfigs(name)
            let defaults = broker.groupConfigVocabulary.defaults
            own = overrides
            current = { overrides[$0] ?? defaults[$0] }
            isList = { _ in false }
            apply = { set, remove in await broker.alterGroupConfigs(group: name, set: set, remove: remove, validateOnly: validateOnly) }
        default:
            return .failure(.invalidRequest, "altering configs of resource type \(type) is not supported")
        }
        let set: [String: String]
        let remove: Set<String>
        switch resolve(changes, current: current, isList: isList) {
        case .success(let resolved): (set, remove) = resolved
        case .failure(let error): return error.outcome
        }
        let removed = replacing ? Set(own.keys).subtracting(set.keys) : remove
        if let error = await apply(set, removed) { return .failure(error.kafkaErrorCode, "\(error)") }
        return Outcome()
    }

    /// Turns the changes into keys to set and keys to remove; list operations work on the
    /// current value (the resource's own, else the default it inherits).
    private func resolve(
        _ changes: [Change], current: (String) -> String?, isList: (String) -> Bool
    ) -> Result<([String: String], Set<String>), OutcomeError> {
        var set: [String: String] = [:]
        var remove = Set<String>()
        for change in changes {
            switch ConfigOperation(rawValue: change.operation) {
            case .set?:
                guard let value = change.value else {
                    return .failure(OutcomeError(.failure(.invalidRequest, "null value not supported for \(change.name)")))
                }
                set[change.name] = value
            case .delete?:
                remove.insert(change.name)
            case let operation? where operation == .append || operation == .subtract:
                guard isList(change.name) else {
                    return .failure(OutcomeError(.failure(.invalidConfig, "\(change.name) is not a list: it can't be appended to or subtracted from")))
                }
                guard let value = change.value else {
                    return .failure(OutcomeError(.failure(.invalidRequest, "null value not supported for \(change.name)")))
                }
                var items = Self.listItems(current(change.name) ?? "")
                for item in Self.listItems(value) {
                    if operation == .append {
                        if !items.contains(item) { items.append(item) }
                    } else {
                        items.removeAll { $0 == item }
                    }
                }
                set[change.name] = items.joined(separator: ",")
            default:
                return .failure(OutcomeError(.failure(.invalidRequest, "unknown config operation \(change.operation) for \(change.name)")))
            }
        }
        return .success((set, remove))
    }

    private static func listItems(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Carries a failed ``Outcome`` through `Result`.
    struct OutcomeError: Error {
        var outcome: Outcome
        init(_ outcome: Outcome) { self.outcome = outcome }
    }
}
