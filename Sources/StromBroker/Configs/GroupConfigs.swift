import Foundation
import StromCluster

/// Kafka's group configs (resource type GROUP) that Strom applies: per share group, overrides of
/// the broker's `group.share.*` settings. Stored in the cluster metadata; a group without an
/// override runs with the broker's value.
struct GroupConfigs: Sendable {
    let shareGroups: ShareGroupSettings
    let groups: GroupCoordinatorSettings

    struct Key: Sendable {
        var name: String
        var type: ConfigValueType
        var documentation: String
    }

    static let autoOffsetReset = "share.auto.offset.reset"
    static let recordLockDuration = "share.record.lock.duration.ms"
    static let isolationLevel = "share.isolation.level"
    static let sessionTimeout = "share.session.timeout.ms"
    static let heartbeatInterval = "share.heartbeat.interval.ms"

    static let keys: [Key] = [
        Key(name: autoOffsetReset, type: .string,
            documentation: "Where a share-partition without state starts: latest, earliest, or by_duration:<ISO-8601 duration> (the first record at or after now minus it)."),
        Key(name: isolationLevel, type: .string,
            documentation: "read_uncommitted: share consumers get every record, those of open and aborted transactions too. read_committed is refused until share-partitions filter aborted transactions."),
        Key(name: recordLockDuration, type: .int,
            documentation: "How long a record acquired by a share consumer stays locked to it before it is offered again."),
        Key(name: sessionTimeout, type: .int, documentation: "A share group member that sends no heartbeat for this long leaves the group."),
        Key(name: heartbeatInterval, type: .int, documentation: "How often share group members heartbeat."),
    ]

    /// The broker's value of each key (what a group without an override runs with).
    var defaults: [String: String] {
        [
            Self.autoOffsetReset: "latest", Self.isolationLevel: "read_uncommitted",
            Self.recordLockDuration: String(shareGroups.recordLockDurationMs),
            Self.sessionTimeout: String(groups.shareSessionTimeoutMs), Self.heartbeatInterval: String(groups.shareHeartbeatIntervalMs),
        ]
    }

    /// Kafka's checks of a group's configs: known keys, values in the broker's bounds.
    func validate(_ configs: [String: String]) throws(MetadataError) {
        for (key, value) in configs {
            switch key {
            case Self.autoOffsetReset:
                guard Self.autoOffsetReset(value) != nil else {
                    throw .invalidConfig(key: key, reason: "\(value) is not latest, earliest or by_duration:<ISO-8601 duration>")
                }
            case Self.isolationLevel:
                // Refused rather than taken and ignored: share-partitions do not yet stop at the
                // last stable offset or leave out aborted transactions' records (librdkafka's 0177).
                if value == "read_committed" {
                    throw .invalidConfig(key: key, reason: "read_committed share groups are not built yet (aborted transactions' records would be delivered)")
                }
                guard value == "read_uncommitted" else {
                    throw .invalidConfig(key: key, reason: "\(value) is not read_uncommitted or read_committed")
                }
            case Self.recordLockDuration:
                try Self.integer(key, value, in: Int(shareGroups.minRecordLockDurationMs)...Int(shareGroups.maxRecordLockDurationMs))
            case Self.sessionTimeout:
                try Self.integer(key, value, in: Int(groups.shareMinSessionTimeoutMs)...Int(groups.shareMaxSessionTimeoutMs))
            case Self.heartbeatInterval:
                try Self.integer(key, value, in: Int(groups.shareMinHeartbeatIntervalMs)...Int(groups.shareMaxHeartbeatIntervalMs))
            default:
                throw .invalidConfig(key: key, reason: "\(key) is not a group config Strom knows")
            }
        }
    }

    private static func integer(_ key: String, _ value: String, in bounds: ClosedRange<Int>) throws(MetadataError) {
        guard let parsed = Int(value), bounds.contains(parsed) else {
            throw .invalidConfig(key: key, reason: "\(value) is not an integer in [\(bounds.lowerBound), \(bounds.upperBound)]")
        }
    }

    /// What a share group's share-partitions run with: its overrides on the broker's settings.
    func shareSettings(_ configs: [String: String]) -> SharePartitionManager.Settings {
        let lockDurationMs = configs[Self.recordLockDuration].flatMap(Int64.init) ?? Int64(shareGroups.recordLockDurationMs)
        return SharePartitionManager.Settings(
            partition: .init(lockDurationMs: lockDurationMs, deliveryCountLimit: shareGroups.deliveryCountLimit, recordLocksMax: shareGroups.partitionMaxRecordLocks),
            autoOffsetReset: configs[Self.autoOffsetReset].flatMap(Self.autoOffsetReset) ?? .latest)
    }

    /// A share group's session timeout and heartbeat interval.
    func membership(_ configs: [String: String]) -> (sessionTimeoutMs: Int32, heartbeatIntervalMs: Int32) {
        (configs[Self.sessionTimeout].flatMap(Int32.init) ?? groups.shareSessionTimeoutMs,
         configs[Self.heartbeatInterval].flatMap(Int32.init) ?? groups.shareHeartbeatIntervalMs)
    }

    static func autoOffsetReset(_ value: String) -> SharePartitionManager.AutoOffsetReset? {
        switch value.lowercased() {
        case "latest": return .latest
        case "earliest": return .earliest
        default:
            guard value.lowercased().hasPrefix("by_duration:"), let durationMs = isoDurationMs(String(value.dropFirst("by_duration:".count))),
                  durationMs >= 0 else { return nil }
            return .byDuration(durationMs)
        }
    }

    /// Java's `Duration.parse` forms: `PnDTnHnMn.nS` (each part optional, at least one).
    static func isoDurationMs(_ text: String) -> Int64? {
        let pattern = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/
        guard let match = text.uppercased().wholeMatch(of: pattern), text.count > 1, !text.uppercased().hasSuffix("T") else { return nil }
        let days = match.1.flatMap { Int64($0) } ?? 0
        let hours = match.2.flatMap { Int64($0) } ?? 0
        let minutes = match.3.flatMap { Int64($0) } ?? 0
        let seconds = match.4.flatMap { Double($0) } ?? 0
        return ((days * 24 + hours) * 60 + minutes) * 60_000 + Int64((seconds * 1000).rounded())
    }
}
