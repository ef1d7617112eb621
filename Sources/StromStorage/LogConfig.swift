public import KafkaProtocol

/// A topic's log configuration: Kafka's topic-level configs (`TopicConfig`/`LogConfig` in Apache Kafka), with
/// Kafka's keys, defaults and validation, plus Strom's ``FlushPolicy``.
///
/// Client-supplied configs (CreateTopics, AlterConfigs, IncrementalAlterConfigs) arrive as Kafka property
/// strings and go through ``init(properties:defaults:)``, which applies Kafka's parsing and range checks and
/// throws ``LogConfigError`` — the broker answers that with `INVALID_CONFIG`. ``properties`` turns a config back
/// into those strings, and ``keys`` describes every key for DescribeConfigs.
///
/// Properties can also be set directly (`var config = LogConfig.defaults; config.segmentSizeBytes = 4096`);
/// that skips validation on purpose, so that tests and broker internals can use values Kafka refuses from
/// clients (small segments to exercise rolling, for example).
///
/// Kafka's `INT` keys are `Int` here (and must fit an `Int32` when parsed); its `LONG` keys are `Int64`, like
/// the offsets and timestamps they are compared with. "Never" and "unlimited" keep Kafka's encodings
/// (`Int64.max`, `-1`) so that values round-trip unchanged through DescribeConfigs and AlterConfigs.
///
/// Defaults and validation are Apache Kafka 4.x's (`LogConfig.java`, `ServerLogConfigs.java`, KIP-1030), except
/// that `segment.bytes` keeps Kafka 3.x's lower bound (see ``segmentSizeBytesMin``).
public struct LogConfig: Sendable, Hashable {
    // MARK: Segments

    /// `segment.bytes`: roll to a new segment once the active one would grow past this size.
    public var segmentSizeBytes: Int
    /// `segment.ms`: roll to a new segment once the active one is this old, even if it isn't full, so that
    /// retention and compaction (which work a whole segment at a time) can reach its records.
    public var segmentMs: Int64
    /// `segment.jitter.ms`: up to this much random time is subtracted from `segment.ms` per segment, so that
    /// partitions created together don't all roll at the same moment.
    public var segmentJitterMs: Int64
    /// `segment.index.bytes`: the size each segment's offset (and time) index is preallocated to; a full
    /// index rolls the segment.
    public var segmentIndexSizeBytes: Int
    /// `index.interval.bytes`: how many bytes of batches go between two offset-index entries.
    public var indexIntervalBytes: Int
    /// `preallocate`: whether a new segment file is created at its full `segment.bytes` size.
    public var preallocate: Bool
    /// `file.delete.delay.ms`: how long a deleted segment's files stay on disk (renamed `*.deleted`) so
    /// that reads already in progress can finish.
    public var fileDeleteDelayMs: Int64

    // MARK: Flushing

    /// `flush.messages`: fsync after this many records have been appended since the last flush.
    /// `Int64.max` (the default) means never by count.
    public var flushIntervalMessages: Int64
    /// `flush.ms`: fsync once the oldest unflushed record is this old. `Int64.max` (the default) means never
    /// by time.
    public var flushIntervalMs: Int64
    /// Strom's durability policy, set by `write.caching` (a Strom key, Redpanda's name for the same choice;
    /// broker default `log.write.caching`).
    public var flushPolicy: FlushPolicy

    /// `write.caching`: whether acks=all is acknowledged before the fsync (``FlushPolicy/writeCaching``).
    public var writeCaching: Bool {
        get { flushPolicy == .writeCaching }
        set { flushPolicy = newValue ? .writeCaching : .syncBeforeAcknowledgingAll }
    }

    // MARK: Retention and compaction

    /// `cleanup.policy`: what happens to old segments — deleted by retention, compacted, both, or (an empty
    /// list) neither.
    public var cleanupPolicy: CleanupPolicy
    /// `retention.ms`: with `delete`, segments whose newest record is older than this are deleted.
    /// `-1` means no time limit.
    public var retentionMs: Int64
    /// `retention.bytes`: with `delete`, the oldest segments are deleted while the partition is larger than
    /// this. Negative (the default, `-1`) means no size limit.
    public var retentionSizeBytes: Int64
    /// `delete.retention.ms`: how long compaction keeps tombstones (records with a null value), so that a
    /// consumer reading from the start has time to see the delete.
    public var deleteRetentionMs: Int64
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    public var minCompactionLagMs: Int64
    /// `max.compaction.lag.ms`: records older than this become eligible for compaction whatever the dirty
    /// ratio. `Int64.max` (the default) means no such deadline.
    public var maxCompactionLagMs: Int64
    /// `min.cleanable.dirty.ratio`: compact a log only once this fraction of it (0...1) is uncompacted.
    public var minCleanableDirtyRatio: Double

    // MARK: Records

    /// `max.message.bytes`: the largest record batch accepted, after compression.
    public var maxMessageSizeBytes: Int
    /// `message.timestamp.type`: keep the producer's timestamps (`CreateTime`) or overwrite them with the
    /// broker's clock (`LogAppendTime`).
    public var messageTimestampType: TimestampType
    /// `message.timestamp.before.max.ms`: with `CreateTime`, reject batches whose timestamps are further than
    /// this in the broker's past.
    public var messageTimestampBeforeMaxMs: Int64
    /// `message.timestamp.after.max.ms`: with `CreateTime`, reject batches whose timestamps are further than
    /// this in the broker's future.
    public var messageTimestampAfterMaxMs: Int64
    /// `compression.type`: the codec batches are stored with.
    public var compressionType: CompressionType

    // MARK: Replication

    /// `min.insync.replicas`: an `acks=all` produce fails unless at least this many replicas are in sync.
    public var minInSyncReplicas: Int
    /// `unclean.leader.election.enable`: whether a replica outside the in-sync set may become leader when no
    /// in-sync replica is left, at the price of losing acknowledged records.
    public var uncleanLeaderElectionEnable: Bool

    /// Kafka's defaults for every topic-level key, and ``FlushPolicy/syncBeforeAcknowledgingAll``.
    public static let defaults = LogConfig()

    /// The smallest `segment.bytes` accepted: Kafka 3.x's bound, the size of the smallest legacy (v0) record.
    /// Kafka 4.0 raised it to 1 MiB (KIP-1030); Strom keeps the lower bound so that tests and small
    /// deployments can roll segments often.
    public static let segmentSizeBytesMin = 14

    private init() {
        // Each number is Kafka 4.x's default for the key named in the property's doc comment.
        self.segmentSizeBytes = 1024 * 1024 * 1024  // 1 GiB
        self.segmentMs = 7 * 24 * 60 * 60 * 1000  // 7 days
        self.segmentJitterMs = 0
        self.segmentIndexSizeBytes = 10 * 1024 * 1024  // 10 MiB
        self.indexIntervalBytes = 4096
        self.preallocate = false
        self.fileDeleteDelayMs = 60_000
        self.flushIntervalMessages = .max
        self.flushIntervalMs = .max
        self.flushPolicy = .syncBeforeAcknowledgingAll
        self.cleanupPolicy = .delete
        self.retentionMs = 7 * 24 * 60 * 60 * 1000  // 7 days
        self.retentionSizeBytes = -1
        self.deleteRetentionMs = 24 * 60 * 60 * 1000  // 1 day
        self.minCompactionLagMs = 0
        self.maxCompactionLagMs = .max
        self.minCleanableDirtyRatio = 0.5
        self.maxMessageSizeBytes = 1024 * 1024 + 12  // 1 MiB plus the 12-byte log overhead (offset + size)
        self.messageTimestampType = .createTime
        self.messageTimestampBeforeMaxMs = .max
        self.messageTimestampAfterMaxMs = 60 * 60 * 1000  // 1 hour since Kafka 4.0 (KIP-1030); unlimited before
        self.compressionType = .producer
        self.minInSyncReplicas = 1
        self.uncleanLeaderElectionEnable = false
    }

    /// Parses Kafka topic config properties on top of `defaults`, with Kafka's rules.
    ///
    /// Keys not in `properties` keep their value from `defaults` (typically the broker's defaults). Values are
    /// trimmed of surrounding whitespace, then parsed by the key's Kafka type: `INT`s must fit an `Int32`,
    /// booleans are `true`/`false` in any case, lists are comma-separated, and enumerated strings must match
    /// exactly. Each value must lie in Kafka's range for its key (see ``keys``), and `min.compaction.lag.ms`
    /// must not exceed `max.compaction.lag.ms`.
    ///
    /// Keys are checked in sorted order, so the error reported for a map with several problems is always the
    /// same one.
    ///
    /// - Parameters:
    ///   - properties: Kafka property names and values, as sent by CreateTopics or AlterConfigs.
    ///   - defaults: The values for keys `properties` doesn't set.
    /// - Throws: ``LogConfigError/unknownKey(_:)`` for a key that isn't a Kafka topic config Strom supports;
    ///   ``LogConfigError/invalidValue(key:value:reason:)`` for a value that doesn't parse or is out of range.
    public init(properties: [String: String], defaults: LogConfig = .defaults) throws(LogConfigError) {
        self = defaults
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            guard let field = Self.fieldsByName[key] else {
                throw .unknownKey(key)
            }
            try field.parse(value, &self)
        }
        // Kafka checks this pair after merging with the defaults (`LogConfig.validateValues`).
        if self.minCompactionLagMs > self.maxCompactionLagMs {
            let key = properties["min.compaction.lag.ms"] != nil || properties["max.compaction.lag.ms"] == nil
                ? "min.compaction.lag.ms" : "max.compaction.lag.ms"
            let value = key == "min.compaction.lag.ms" ? self.minCompactionLagMs : self.maxCompactionLagMs
            throw .invalidValue(
                key: key,
                value: String(value),
                reason: "min.compaction.lag.ms (\(self.minCompactionLagMs)) must not exceed "
                    + "max.compaction.lag.ms (\(self.maxCompactionLagMs))"
            )
        }
    }

    /// Every key with its value, in Kafka's text form. For a config whose values are all valid,
    /// `LogConfig(properties: config.properties, defaults: d)` equals `config`.
    public var properties: [String: String] {
        var properties: [String: String] = [:]
        properties.reserveCapacity(Self.fields.count)
        for field in Self.fields {
            properties[field.key.name] = field.format(self)
        }
        return properties
    }

    /// Whether an `acks=all` produce waits for an fsync (``FlushPolicy/syncBeforeAcknowledgingAll``).
    public var flushesBeforeAcknowledging: Bool { self.flushPolicy == .syncBeforeAcknowledgingAll }

    /// Whether `cleanup.policy` includes `compact`.
    public var isCompacted: Bool { self.cleanupPolicy.contains(.compact) }

    /// Whether `cleanup.policy` includes `delete`, so that `retention.ms` and `retention.bytes` apply.
    public var isDeleteEnabled: Bool { self.cleanupPolicy.contains(.delete) }

    /// Every key ``init(properties:defaults:)`` accepts, sorted by name, with its type, Kafka's default, valid
    /// values, broker-level synonym and a one-line description: what DescribeConfigs reports.
    public static let keys: [LogConfigKey] = fields.map(\.key)
}

// MARK: - Value types

extension LogConfig {
    /// When Strom makes appended records durable.
    public enum FlushPolicy: Sendable, Hashable {
        /// An `acks=all` produce is answered only after its records are fsynced. Requests arriving while a
        /// flush runs share the next one (group commit), so the cost is one fsync per batch of requests, not
        /// per request. `flush.messages` and `flush.ms` still force flushes on their own. The default: with a
        /// single broker, fsync is the only thing standing between an acknowledged record and a power cut.
        case syncBeforeAcknowledgingAll
        /// Kafka's durability (`write.caching=true`): acks=all is answered once the records are written (and,
        /// in a cluster, written by every in-sync replica), before any fsync; the group commit syncs them
        /// in the background right after, and `flush.messages` / `flush.ms` force flushes as in Kafka. A
        /// process crash (kill -9) loses nothing, the page cache survives it; a power cut can lose the last
        /// milliseconds of acknowledged writes unless another in-sync replica has them, which is what Kafka
        /// accepts by default. Choose it for a replicated cluster across failure domains.
        case writeCaching
    }

    /// `cleanup.policy`: Kafka's list of `delete` and `compact`.
    public struct CleanupPolicy: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8

        public init(rawValue: UInt8) {
            self.rawValue = rawValue
        }

        /// Delete segments past `retention.ms` / `retention.bytes`.
        public static let delete = CleanupPolicy(rawValue: 1 << 0)
        /// Keep only the latest record for each key.
        public static let compact = CleanupPolicy(rawValue: 1 << 1)
    }

    /// `compression.type`: the codec a topic's batches are stored with.
    public enum CompressionType: Sendable, Hashable {
        /// `producer`: store each batch with the codec its producer chose (no re-compression).
        case producer
        /// Store batches with this codec, re-compressing those that use another one. Kafka calls
        /// ``CompressionCodec/none`` `uncompressed` here.
        case codec(CompressionCodec)

        /// The value for Kafka name `name` (`producer`, `uncompressed`, `gzip`, `snappy`, `lz4`, `zstd`; exact
        /// case, as Kafka's validator requires), or nil.
        public init?(kafkaName name: String) {
            switch name {
            case "producer": self = .producer
            case "uncompressed": self = .codec(.none)
            case "gzip": self = .codec(.gzip)
            case "snappy": self = .codec(.snappy)
            case "lz4": self = .codec(.lz4)
            case "zstd": self = .codec(.zstd)
            default: return nil
            }
        }

        /// The name Kafka uses for this value in `compression.type`.
        public var kafkaName: String {
            switch self {
            case .producer: "producer"
            case .codec(.none): "uncompressed"
            case .codec(.gzip): "gzip"
            case .codec(.snappy): "snappy"
            case .codec(.lz4): "lz4"
            case .codec(.zstd): "zstd"
            }
        }
    }
}

/// Why topic config properties were refused. The broker answers either case with `INVALID_CONFIG`, and the
/// ``description`` as the error message.
public enum LogConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `key` is not a topic config Strom knows (Kafka: "Unknown topic config name").
    case unknownKey(String)
    /// `value` (as sent) doesn't parse as `key`'s type or is outside its valid values.
    case invalidValue(key: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .unknownKey(let key):
            "Unknown topic config name: \(key)"
        case .invalidValue(let key, let value, let reason):
            "Invalid value \(value) for configuration \(key): \(reason)"
        }
    }
}

/// One topic-level config key, as DescribeConfigs describes it.
public struct LogConfigKey: Sendable, Hashable {
    /// Kafka's value types (DescribeConfigs `ConfigType`) that topic configs use.
    public enum ConfigType: Sendable, Hashable {
        case boolean
        case string
        case int
        case long
        case double
        case list
    }

    /// The topic-level key, e.g. `segment.bytes`.
    public var name: String
    public var type: ConfigType
    /// Kafka's default, in the key's text form (what ``LogConfig/properties`` gives for
    /// ``LogConfig/defaults``).
    public var defaultValue: String
    /// The values Kafka accepts, in Kafka's documentation notation (`[1,...]`, `[0,...,1]`, `[a, b]`); empty
    /// when any value of the type is accepted.
    public var validValues: String
    /// The broker-level config that sets the default for every topic (Kafka's `ServerTopicConfigSynonyms`).
    public var serverDefaultProperty: String
    /// What the key controls, in one sentence.
    public var documentation: String
}

// MARK: - The key table

extension LogConfig {
    /// How one key is parsed into, and formatted from, a ``LogConfig``.
    struct Field: Sendable {
        var key: LogConfigKey
        var parse: @Sendable (String, inout LogConfig) throws(LogConfigError) -> Void
        var format: @Sendable (LogConfig) -> String
    }

    /// Every supported key, sorted by name. Defaults in ``LogConfigKey`` are formatted from ``defaults`` so
    /// the table can't drift from the values.
    static let fields: [Field] = [
        longField(
            "delete.retention.ms", \.deleteRetentionMs, min: 0,
            server: "log.cleaner.delete.retention.ms",
            "How long a compacted topic keeps tombstones, bounding how long a full read may take to see a delete."
        ),
        longField(
            "file.delete.delay.ms", \.fileDeleteDelayMs, min: 0,
            server: "log.segment.delete.delay.ms",
            "How long a deleted segment's files stay on disk before they are removed."
        ),
        longField(
            "flush.messages", \.flushIntervalMessages, min: 1,
            server: "log.flush.interval.messages",
            "Force an fsync after this many appended records; the default never does."
        ),
        longField(
            "flush.ms", \.flushIntervalMs, min: 0,
            server: "log.flush.interval.ms",
            "Force an fsync once unflushed records are this old; the default never does."
        ),
        intField(
            "index.interval.bytes", \.indexIntervalBytes, min: 0,
            server: "log.index.interval.bytes",
            "Bytes of records between two entries of the sparse offset index."
        ),
        longField(
            "max.compaction.lag.ms", \.maxCompactionLagMs, min: 1,
            server: "log.cleaner.max.compaction.lag.ms",
            "Records older than this become eligible for compaction regardless of the dirty ratio."
        ),
        intField(
            "max.message.bytes", \.maxMessageSizeBytes, min: 0,
            server: "message.max.bytes",
            "The largest record batch the topic accepts, measured after compression."
        ),
        Field(
            key: LogConfigKey(
                name: "message.timestamp.type", type: .string,
                defaultValue: timestampTypeName(defaults.messageTimestampType),
                validValues: "[CreateTime, LogAppendTime]",
                serverDefaultProperty: "log.message.timestamp.type",
                documentation: "Whether records keep the producer's timestamp or get the broker's append time."
            ),
            parse: { rawValue, config throws(LogConfigError) in
                switch trimmedKafkaValue(rawValue) {
                case "CreateTime": config.messageTimestampType = .createTime
                case "LogAppendTime": config.messageTimestampType = .logAppendTime
                default:
                    throw .invalidValue(
                        key: "message.timestamp.type", value: rawValue,
                        reason: "must be one of: CreateTime, LogAppendTime"
                    )
                }
            },
            format: { timestampTypeName($0.messageTimestampType) }
        ),
        longField(
            "message.timestamp.after.max.ms", \.messageTimestampAfterMaxMs, min: 0,
            server: "log.message.timestamp.after.max.ms",
            "With CreateTime, reject batches timestamped more than this far in the broker's future."
        ),
        longField(
            "message.timestamp.before.max.ms", \.messageTimestampBeforeMaxMs, min: 0,
            server: "log.message.timestamp.before.max.ms",
            "With CreateTime, reject batches timestamped more than this far in the broker's past."
        ),
        Field(
            key: LogConfigKey(
                name: "min.cleanable.dirty.ratio", type: .double,
                defaultValue: String(defaults.minCleanableDirtyRatio),
                validValues: "[0,...,1]",
                serverDefaultProperty: "log.cleaner.min.cleanable.ratio",
                documentation: "Compact a log only once at least this fraction of it is uncompacted."
            ),
            parse: { rawValue, config throws(LogConfigError) in
                // Double() also accepts "nan" and "inf"; neither is a ratio.
                guard let ratio = Double(trimmedKafkaValue(rawValue)), !ratio.isNaN else {
                    throw .invalidValue(key: "min.cleanable.dirty.ratio", value: rawValue, reason: "not a number")
                }
                guard (0...1).contains(ratio) else {
                    throw .invalidValue(
                        key: "min.cleanable.dirty.ratio", value: rawValue, reason: "must be between 0 and 1"
                    )
                }
                config.minCleanableDirtyRatio = ratio
            },
            format: { String($0.minCleanableDirtyRatio) }
        ),
        longField(
            "min.compaction.lag.ms", \.minCompactionLagMs, min: 0,
            server: "log.cleaner.min.compaction.lag.ms",
            "Records stay uncompacted for at least this long."
        ),
        intField(
            "min.insync.replicas", \.minInSyncReplicas, min: 1,
            server: "min.insync.replicas",
            "How many in-sync replicas an acks=all produce needs to succeed."
        ),
        booleanField(
            "preallocate", \.preallocate,
            server: "log.preallocate",
            "Whether a new segment file is created at its full segment.bytes size."
        ),
        longField(
            "retention.bytes", \.retentionSizeBytes, min: nil,
            server: "log.retention.bytes",
            "With delete, drop the oldest segments while the partition is larger than this; negative means no limit."
        ),
        longField(
            "retention.ms", \.retentionMs, min: -1,
            server: "log.retention.ms",
            "With delete, drop segments whose records are all older than this; -1 means no limit."
        ),
        intField(
            "segment.bytes", \.segmentSizeBytes, min: segmentSizeBytesMin,
            server: "log.segment.bytes",
            "Roll to a new segment file once the active one reaches this size."
        ),
        intField(
            "segment.index.bytes", \.segmentIndexSizeBytes, min: 4,
            server: "log.index.size.max.bytes",
            "The preallocated size of each segment's index; a full index rolls the segment."
        ),
        longField(
            "segment.jitter.ms", \.segmentJitterMs, min: 0,
            server: "log.roll.jitter.ms",
            "Up to this much random time is taken off segment.ms so partitions don't all roll at once."
        ),
        longField(
            "segment.ms", \.segmentMs, min: 1,
            server: "log.roll.ms",
            "Roll to a new segment once the active one is this old, so retention and compaction can reach it."
        ),
        booleanField(
            "unclean.leader.election.enable", \.uncleanLeaderElectionEnable,
            server: "unclean.leader.election.enable",
            "Allow an out-of-sync replica to become leader as a last resort, losing acknowledged records."
        ),
        booleanField(
            "write.caching", \.writeCaching,
            server: "log.write.caching",
            "Strom: answer acks=all once the in-sync replicas have written the records, syncing them to disk right after (Kafka's durability), instead of after the fsync."
        ),
        cleanupPolicyField,
        compressionTypeField,
    ].sorted(by: { $0.key.name < $1.key.name })

    static let fieldsByName: [String: Field] = Dictionary(
        uniqueKeysWithValues: fields.map { ($0.key.name, $0) }
    )
}

// MARK: - Field builders

extension LogConfig {
    /// A Kafka `LONG` key with an optional lower bound.
    private static func longField(
        _ name: String,
        _ keyPath: any WritableKeyPath<LogConfig, Int64> & Sendable,
        min: Int64?,
        server: String,
        _ documentation: String
    ) -> Field {
        Field(
            key: LogConfigKey(
                name: name, type: .long, defaultValue: String(defaults[keyPath: keyPath]),
                validValues: min.map { "[\($0),...]" } ?? "",
                serverDefaultProperty: server, documentation: documentation
            ),
            parse: { rawValue, config throws(LogConfigError) in
                guard let value = Int64(trimmedKafkaValue(rawValue)) else {
                    throw .invalidValue(key: name, value: rawValue, reason: "not a 64-bit integer")
                }
                if let min, value < min {
                    throw .invalidValue(key: name, value: rawValue, reason: "must be at least \(min)")
                }
                config[keyPath: keyPath] = value
            },
            format: { String($0[keyPath: keyPath]) }
        )
    }

    /// A Kafka `INT` key (an `Int32` on the wire and in Kafka, an `Int` here) with a lower bound.
    private static func intField(
        _ name: String,
        _ keyPath: any WritableKeyPath<LogConfig, Int> & Sendable,
        min: Int,
        server: String,
        _ documentation: String
    ) -> Field {
        Field(
            key: LogConfigKey(
                name: name, type: .int, defaultValue: String(defaults[keyPath: keyPath]),
                validValues: "[\(min),...]",
                serverDefaultProperty: server, documentation: documentation
            ),
            parse: { rawValue, config throws(LogConfigError) in
                guard let value = Int32(trimmedKafkaValue(rawValue)) else {
                    throw .invalidValue(key: name, value: rawValue, reason: "not a 32-bit integer")
                }
                guard value >= min else {
                    throw .invalidValue(key: name, value: rawValue, reason: "must be at least \(min)")
                }
                config[keyPath: keyPath] = Int(value)
            },
            format: { String($0[keyPath: keyPath]) }
        )
    }

    /// A Kafka `BOOLEAN` key: `true` or `false`, in any case.
    private static func booleanField(
        _ name: String,
        _ keyPath: any WritableKeyPath<LogConfig, Bool> & Sendable,
        server: String,
        _ documentation: String
    ) -> Field {
        Field(
            key: LogConfigKey(
                name: name, type: .boolean, defaultValue: String(defaults[keyPath: keyPath]),
                validValues: "", serverDefaultProperty: server, documentation: documentation
            ),
            parse: { rawValue, config throws(LogConfigError) in
                switch trimmedKafkaValue(rawValue).lowercased() {
                case "true": config[keyPath: keyPath] = true
                case "false": config[keyPath: keyPath] = false
                default: throw .invalidValue(key: name, value: rawValue, reason: "must be true or false")
                }
            },
            format: { String($0[keyPath: keyPath]) }
        )
    }

    private static let cleanupPolicyField = Field(
        key: LogConfigKey(
            name: "cleanup.policy", type: .list, defaultValue: cleanupPolicyText(defaults.cleanupPolicy),
            validValues: "[compact, delete]", serverDefaultProperty: "log.cleanup.policy",
            documentation: "What happens to old segments: delete them past retention, compact them, or both."
        ),
        parse: { rawValue, config throws(LogConfigError) in
            // Kafka's LIST parsing: an empty value is an empty list (no cleanup at all); otherwise split at
            // commas, ignoring spaces around them and keeping empty items, which then fail validation.
            let trimmed = trimmedKafkaValue(rawValue)
            var policy: CleanupPolicy = []
            if !trimmed.isEmpty {
                for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
                    switch trimmedKafkaValue(item) {
                    case "delete": policy.insert(.delete)
                    case "compact": policy.insert(.compact)
                    default:
                        throw .invalidValue(
                            key: "cleanup.policy", value: rawValue,
                            reason: "each item must be one of: compact, delete"
                        )
                    }
                }
            }
            config.cleanupPolicy = policy
        },
        format: { cleanupPolicyText($0.cleanupPolicy) }
    )

    private static let compressionTypeField = Field(
        key: LogConfigKey(
            name: "compression.type", type: .string, defaultValue: defaults.compressionType.kafkaName,
            validValues: "[uncompressed, zstd, lz4, snappy, gzip, producer]",
            serverDefaultProperty: "compression.type",
            documentation: "The codec batches are stored with; producer keeps each producer's choice."
        ),
        parse: { rawValue, config throws(LogConfigError) in
            guard let compressionType = CompressionType(kafkaName: String(trimmedKafkaValue(rawValue))) else {
                throw .invalidValue(
                    key: "compression.type", value: rawValue,
                    reason: "must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
                )
            }
            config.compressionType = compressionType
        },
        format: { $0.compressionType.kafkaName }
    )
}

/// `value` without leading and trailing characters up to U+0020 (spaces, tabs, line breaks, controls), as
/// Java's `String.trim()`, which Kafka applies to every config value before parsing it.
private func trimmedKafkaValue(_ value: some StringProtocol) -> Substring {
    let isTrimmed: (Unicode.Scalar) -> Bool = { $0.value <= 0x20 }
    let scalars = Substring(value).unicodeScalars
    guard let first = scalars.firstIndex(where: { !isTrimmed($0) }),
          let last = scalars.lastIndex(where: { !isTrimmed($0) })
    else {
        return ""
    }
    return Substring(scalars[first...last])
}

/// Kafka's text for `cleanup.policy`, items in Kafka's documented order.
private func cleanupPolicyText(_ policy: LogConfig.CleanupPolicy) -> String {
    var items: [String] = []
    if policy.contains(.compact) { items.append("compact") }
    if policy.contains(.delete) { items.append("delete") }
    return items.joined(separator: ",")
}

/// Kafka's name for a timestamp type in `message.timestamp.type`.
private func timestampTypeName(_ type: TimestampType) -> String {
    switch type {
    case .createTime: "CreateTime"
    case .logAppendTime: "LogAppendTime"
    }
}
