import KafkaProtocol
import StromStorage
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kafka 4.x's default for every topic-level key, as `kafka-configs --describe --all` prints them: from Apache
/// Kafka's `LogConfig.java` / `ServerLogConfigs.java` and KIP-1030 (which made
/// `message.timestamp.after.max.ms` one hour in 4.0).
private let kafkaDefaultTopicProperties: [String: String] = [
    "cleanup.policy": "delete",
    "compression.type": "producer",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000",
    "flush.messages": "9223372036854775807",
    "flush.ms": "9223372036854775807",
    "index.interval.bytes": "4096",
    "max.compaction.lag.ms": "9223372036854775807",
    "max.message.bytes": "1048588",
    "message.timestamp.after.max.ms": "3600000",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
]

/// Strom's own topic keys, with their defaults.
private let stromTopicProperties: [String: String] = [
    "write.caching": "false",
]

private let topicDefaults = kafkaDefaultTopicProperties.merging(stromTopicProperties) { kafka, _ in kafka }

/// One accepted property and the config it must produce (the defaults with one field changed).
struct ValidLogConfigProperty: Sendable, CustomTestStringConvertible {
    var key: String
    var value: String
    var expected: LogConfig

    init(_ key: String, _ value: String, _ change: (inout LogConfig) -> Void) {
        self.key = key
        self.value = value
        var expected = LogConfig.defaults
        change(&expected)
        self.expected = expected
    }

    var testDescription: String { "\(key)=\(value.debugDescription)" }
}

private let validLogConfigProperties: [ValidLogConfigProperty] = [
    ValidLogConfigProperty("segment.bytes", "14") { $0.segmentSizeBytes = 14 },
    ValidLogConfigProperty("segment.bytes", "65536") { $0.segmentSizeBytes = 65_536 },
    ValidLogConfigProperty("segment.bytes", "2147483647") { $0.segmentSizeBytes = Int(Int32.max) },
    ValidLogConfigProperty("segment.ms", "1") { $0.segmentMs = 1 },
    ValidLogConfigProperty("segment.jitter.ms", "5000") { $0.segmentJitterMs = 5000 },
    ValidLogConfigProperty("segment.index.bytes", "4") { $0.segmentIndexSizeBytes = 4 },
    ValidLogConfigProperty("index.interval.bytes", "0") { $0.indexIntervalBytes = 0 },
    ValidLogConfigProperty("preallocate", "true") { $0.preallocate = true },
    ValidLogConfigProperty("preallocate", "TRUE") { $0.preallocate = true },
    ValidLogConfigProperty("write.caching", "true") { $0.flushPolicy = .writeCaching },
    ValidLogConfigProperty("write.caching", "false") { $0.flushPolicy = .syncBeforeAcknowledgingAll },
    ValidLogConfigProperty("file.delete.delay.ms", "0") { $0.fileDeleteDelayMs = 0 },
    ValidLogConfigProperty("flush.messages", "1") { $0.flushIntervalMessages = 1 },
    ValidLogConfigProperty("flush.ms", "0") { $0.flushIntervalMs = 0 },
    ValidLogConfigProperty("cleanup.policy", "compact") { $0.cleanupPolicy = .compact },
    ValidLogConfigProperty("cleanup.policy", "compact,delete") { $0.cleanupPolicy = [.compact, .delete] },
    ValidLogConfigProperty("cleanup.policy", " delete , compact ") { $0.cleanupPolicy = [.compact, .delete] },
    ValidLogConfigProperty("cleanup.policy", "delete,delete") { $0.cleanupPolicy = .delete },
    ValidLogConfigProperty("cleanup.policy", "") { $0.cleanupPolicy = [] },
    ValidLogConfigProperty("retention.ms", "-1") { $0.retentionMs = -1 },
    ValidLogConfigProperty("retention.ms", "86400000") { $0.retentionMs = 86_400_000 },
    ValidLogConfigProperty("retention.bytes", "1073741824") { $0.retentionSizeBytes = 1_073_741_824 },
    ValidLogConfigProperty("retention.bytes", "-5") { $0.retentionSizeBytes = -5 },
    ValidLogConfigProperty("delete.retention.ms", "0") { $0.deleteRetentionMs = 0 },
    ValidLogConfigProperty("min.compaction.lag.ms", "60000") { $0.minCompactionLagMs = 60_000 },
    ValidLogConfigProperty("max.compaction.lag.ms", "1") { $0.maxCompactionLagMs = 1 },
    ValidLogConfigProperty("min.cleanable.dirty.ratio", "0") { $0.minCleanableDirtyRatio = 0 },
    ValidLogConfigProperty("min.cleanable.dirty.ratio", "1") { $0.minCleanableDirtyRatio = 1 },
    ValidLogConfigProperty("min.cleanable.dirty.ratio", "0.25") { $0.minCleanableDirtyRatio = 0.25 },
    ValidLogConfigProperty("max.message.bytes", "0") { $0.maxMessageSizeBytes = 0 },
    ValidLogConfigProperty("max.message.bytes", "+10485760") { $0.maxMessageSizeBytes = 10_485_760 },
    ValidLogConfigProperty("message.timestamp.type", "LogAppendTime") { $0.messageTimestampType = .logAppendTime },
    ValidLogConfigProperty("message.timestamp.type", "CreateTime") { $0.messageTimestampType = .createTime },
    ValidLogConfigProperty("message.timestamp.before.max.ms", "0") { $0.messageTimestampBeforeMaxMs = 0 },
    ValidLogConfigProperty("message.timestamp.after.max.ms", "9223372036854775807") {
        $0.messageTimestampAfterMaxMs = .max
    },
    ValidLogConfigProperty("compression.type", "uncompressed") { $0.compressionType = .codec(.none) },
    ValidLogConfigProperty("compression.type", "gzip") { $0.compressionType = .codec(.gzip) },
    ValidLogConfigProperty("compression.type", "snappy") { $0.compressionType = .codec(.snappy) },
    ValidLogConfigProperty("compression.type", "lz4") { $0.compressionType = .codec(.lz4) },
    ValidLogConfigProperty("compression.type", "zstd") { $0.compressionType = .codec(.zstd) },
    ValidLogConfigProperty("compression.type", "producer") { $0.compressionType = .producer },
    ValidLogConfigProperty("min.insync.replicas", "2") { $0.minInSyncReplicas = 2 },
    ValidLogConfigProperty("unclean.leader.election.enable", "true") { $0.uncleanLeaderElectionEnable = true },
    // Kafka trims every value (Java's String.trim) before parsing it.
    ValidLogConfigProperty("retention.ms", " \t1000\n") { $0.retentionMs = 1000 },
    ValidLogConfigProperty("unclean.leader.election.enable", " False ") { $0.uncleanLeaderElectionEnable = false },
]

/// Values Kafka refuses for each key: wrong type, out of Kafka's range, or not one of the listed strings.
private let invalidLogConfigProperties: [(key: String, value: String)] = [
    ("segment.bytes", "13"),  // below Kafka 3.x's minimum, which Strom keeps (Kafka 4.0 requires 1 MiB)
    ("segment.bytes", "2147483648"),  // an INT: must fit an Int32
    ("segment.bytes", "1GB"),
    ("segment.bytes", ""),
    ("segment.ms", "0"),
    ("segment.jitter.ms", "-1"),
    ("segment.index.bytes", "3"),
    ("index.interval.bytes", "-1"),
    ("preallocate", "yes"),
    ("preallocate", "1"),
    ("write.caching", "yes"),
    ("file.delete.delay.ms", "-1"),
    ("flush.messages", "0"),
    ("flush.ms", "-1"),
    ("flush.ms", "9223372036854775808"),  // a LONG: must fit an Int64
    ("cleanup.policy", "none"),
    ("cleanup.policy", "Compact"),  // Kafka's list validator is case-sensitive
    ("cleanup.policy", "delete,"),  // an empty item
    ("cleanup.policy", "compact;delete"),
    ("retention.ms", "-2"),
    ("retention.ms", "7d"),
    ("retention.bytes", "1.5"),
    ("delete.retention.ms", "-1"),
    ("min.compaction.lag.ms", "-1"),
    ("max.compaction.lag.ms", "0"),
    ("min.cleanable.dirty.ratio", "1.01"),
    ("min.cleanable.dirty.ratio", "-0.1"),
    ("min.cleanable.dirty.ratio", "nan"),
    ("min.cleanable.dirty.ratio", "inf"),
    ("min.cleanable.dirty.ratio", "half"),
    ("max.message.bytes", "-1"),
    ("message.timestamp.type", "createtime"),
    ("message.timestamp.type", "AppendTime"),
    ("message.timestamp.before.max.ms", "-1"),
    ("message.timestamp.after.max.ms", "-1"),
    ("compression.type", "none"),  // Kafka's topic-level name is "uncompressed"
    ("compression.type", "GZIP"),
    ("compression.type", "brotli"),
    ("min.insync.replicas", "0"),
    ("unclean.leader.election.enable", "maybe"),
]

@Suite("LogConfig: Kafka topic configs")
struct LogConfigTests {
    // MARK: Defaults and the key table

    @Test("defaults are Kafka 4.x's")
    func defaultsMatchKafka() {
        let defaults = LogConfig.defaults
        #expect(defaults.properties == topicDefaults)

        #expect(defaults.segmentSizeBytes == 1 << 30)
        #expect(defaults.segmentMs == 7 * 24 * 3_600_000)
        #expect(defaults.segmentJitterMs == 0)
        #expect(defaults.segmentIndexSizeBytes == 10 << 20)
        #expect(defaults.indexIntervalBytes == 4096)
        #expect(defaults.flushIntervalMessages == Int64.max)
        #expect(defaults.flushIntervalMs == Int64.max)
        #expect(defaults.retentionMs == 7 * 24 * 3_600_000)
        #expect(defaults.retentionSizeBytes == -1)
        #expect(defaults.cleanupPolicy == .delete)
        #expect(defaults.isDeleteEnabled && !defaults.isCompacted)
        #expect(defaults.deleteRetentionMs == 24 * 3_600_000)
        #expect(defaults.minCompactionLagMs == 0)
        #expect(defaults.maxCompactionLagMs == Int64.max)
        #expect(defaults.minCleanableDirtyRatio == 0.5)
        #expect(defaults.fileDeleteDelayMs == 60_000)
        #expect(defaults.maxMessageSizeBytes == 1_048_588)
        #expect(defaults.messageTimestampType == .createTime)
        #expect(defaults.messageTimestampBeforeMaxMs == Int64.max)
        #expect(defaults.messageTimestampAfterMaxMs == 3_600_000)
        #expect(defaults.compressionType == .producer)
        #expect(defaults.minInSyncReplicas == 1)
        #expect(defaults.uncleanLeaderElectionEnable == false)
        #expect(defaults.preallocate == false)
        #expect(defaults.flushPolicy == .syncBeforeAcknowledgingAll)
        #expect(defaults.flushesBeforeAcknowledging)
    }

    @Test("keys: every supported key once, sorted, defaults matching the values, documented")
    func keyTable() {
        let names = LogConfig.keys.map(\.name)
        #expect(names == topicDefaults.keys.sorted())
        for key in LogConfig.keys {
            #expect(key.defaultValue == topicDefaults[key.name], "\(key.name)")
            #expect(!key.documentation.isEmpty, "\(key.name)")
            #expect(!key.serverDefaultProperty.isEmpty, "\(key.name)")
        }
        let byName = Dictionary(uniqueKeysWithValues: LogConfig.keys.map { ($0.name, $0) })
        // Kafka's broker-level synonyms (ServerTopicConfigSynonyms) where the names differ.
        #expect(byName["segment.ms"]?.serverDefaultProperty == "log.roll.ms")
        #expect(byName["segment.index.bytes"]?.serverDefaultProperty == "log.index.size.max.bytes")
        #expect(byName["max.message.bytes"]?.serverDefaultProperty == "message.max.bytes")
        #expect(byName["min.cleanable.dirty.ratio"]?.serverDefaultProperty == "log.cleaner.min.cleanable.ratio")
        #expect(byName["file.delete.delay.ms"]?.serverDefaultProperty == "log.segment.delete.delay.ms")
        // Types and valid values as Kafka documents them.
        #expect(byName["segment.bytes"]?.type == .int)
        #expect(byName["segment.bytes"]?.validValues == "[14,...]")
        #expect(byName["retention.ms"]?.type == .long)
        #expect(byName["retention.ms"]?.validValues == "[-1,...]")
        #expect(byName["retention.bytes"]?.validValues == "")
        #expect(byName["min.cleanable.dirty.ratio"]?.type == .double)
        #expect(byName["min.cleanable.dirty.ratio"]?.validValues == "[0,...,1]")
        #expect(byName["cleanup.policy"]?.type == .list)
        #expect(byName["compression.type"]?.type == .string)
        #expect(byName["preallocate"]?.type == .boolean)
        #expect(byName["write.caching"]?.type == .boolean)
        #expect(byName["write.caching"]?.serverDefaultProperty == "log.write.caching")
    }

    // MARK: Parsing

    @Test("each key parses into its field", arguments: validLogConfigProperties)
    func parsesKey(property: ValidLogConfigProperty) throws {
        let config = try LogConfig(properties: [property.key: property.value])
        #expect(config == property.expected)
    }

    @Test("no properties gives the defaults it is given, including write caching")
    func emptyPropertiesKeepDefaults() throws {
        #expect(try LogConfig(properties: [:]) == .defaults)

        var brokerDefaults = LogConfig.defaults
        brokerDefaults.flushPolicy = .writeCaching
        brokerDefaults.retentionMs = 3_600_000
        let config = try LogConfig(properties: ["segment.ms": "60000"], defaults: brokerDefaults)
        #expect(config.flushPolicy == .writeCaching)
        #expect(!config.flushesBeforeAcknowledging)
        #expect(config.retentionMs == 3_600_000)
        #expect(config.segmentMs == 60_000)
    }

    @Test("invalid values are refused with their key and value", arguments: invalidLogConfigProperties)
    func rejectsInvalidValue(key: String, value: String) {
        let error = #expect(throws: LogConfigError.self) {
            try LogConfig(properties: [key: value])
        }
        guard case .invalidValue(let errorKey, let errorValue, let reason)? = error else {
            Issue.record("expected invalidValue, got \(String(describing: error))")
            return
        }
        #expect(errorKey == key)
        #expect(errorValue == value)
        #expect(!reason.isEmpty)
    }

    @Test("unknown keys are refused, including broker-level names", arguments: [
        "segment.size", "log.retention.ms", "log.segment.bytes", "retention.hours", "Segment.Bytes", "",
    ])
    func rejectsUnknownKey(key: String) {
        #expect(throws: LogConfigError.unknownKey(key)) {
            try LogConfig(properties: [key: "1"])
        }
    }

    @Test("min.compaction.lag.ms must not exceed max.compaction.lag.ms, after merging with the defaults")
    func compactionLagOrder() throws {
        let bothSet = #expect(throws: LogConfigError.self) {
            try LogConfig(properties: ["min.compaction.lag.ms": "1000", "max.compaction.lag.ms": "999"])
        }
        #expect(bothSet == .invalidValue(
            key: "min.compaction.lag.ms", value: "1000",
            reason: "min.compaction.lag.ms (1000) must not exceed max.compaction.lag.ms (999)"
        ))
        var defaults = LogConfig.defaults
        defaults.minCompactionLagMs = 5000
        let maxSet = #expect(throws: LogConfigError.self) {
            try LogConfig(properties: ["max.compaction.lag.ms": "4000"], defaults: defaults)
        }
        #expect(maxSet == .invalidValue(
            key: "max.compaction.lag.ms", value: "4000",
            reason: "min.compaction.lag.ms (5000) must not exceed max.compaction.lag.ms (4000)"
        ))
        let equal = try LogConfig(properties: ["min.compaction.lag.ms": "1000", "max.compaction.lag.ms": "1000"])
        #expect(equal.minCompactionLagMs == equal.maxCompactionLagMs)
    }

    @Test("with several problems, the first key in sorted order is reported")
    func deterministicError() {
        let properties = ["segment.ms": "0", "retention.ms": "-7", "zzz.unknown": "1", "flush.ms": "x"]
        for _ in 0..<5 {
            #expect(throws: LogConfigError.invalidValue(key: "flush.ms", value: "x", reason: "not a 64-bit integer")) {
                try LogConfig(properties: properties)
            }
        }
    }

    @Test("errors read like Kafka's messages")
    func errorDescriptions() {
        #expect(LogConfigError.unknownKey("foo.bar").description == "Unknown topic config name: foo.bar")
        let invalid = LogConfigError.invalidValue(key: "segment.ms", value: "0", reason: "must be at least 1")
        #expect(invalid.description == "Invalid value 0 for configuration segment.ms: must be at least 1")
    }

    // MARK: cleanup.policy and compression.type

    @Test("cleanup.policy accessors")
    func cleanupPolicyAccessors() {
        var config = LogConfig.defaults
        config.cleanupPolicy = .compact
        #expect(config.isCompacted && !config.isDeleteEnabled)
        config.cleanupPolicy = [.compact, .delete]
        #expect(config.isCompacted && config.isDeleteEnabled)
        #expect(config.properties["cleanup.policy"] == "compact,delete")
        config.cleanupPolicy = []
        #expect(!config.isCompacted && !config.isDeleteEnabled)
        #expect(config.properties["cleanup.policy"] == "")
    }

    @Test("compression.type names map to the protocol's codecs and back")
    func compressionTypeNames() {
        for codec in CompressionCodec.allCases {
            let type = LogConfig.CompressionType.codec(codec)
            #expect(LogConfig.CompressionType(kafkaName: type.kafkaName) == type)
        }
        #expect(LogConfig.CompressionType.codec(.none).kafkaName == "uncompressed")
        #expect(LogConfig.CompressionType(kafkaName: "producer") == .producer)
        #expect(LogConfig.CompressionType(kafkaName: "none") == nil)
    }

    // MARK: Round trips

    @Test("properties round-trip: seeded random valid configs")
    func propertiesRoundTrip() throws {
        let seed = logConfigTestSeed()
        var random = LogConfigTestRandom(seed: seed)
        for iteration in 0..<500 {
            let config = random.arbitraryLogConfig()
            let parsed = try LogConfig(properties: config.properties)
            #expect(parsed == config, "seed=\(seed) iteration=\(iteration)")
            #expect(parsed.properties == config.properties, "seed=\(seed) iteration=\(iteration)")
        }
    }

    @Test("every key's valid values survive a round trip", arguments: validLogConfigProperties)
    func validPropertyRoundTrip(property: ValidLogConfigProperty) throws {
        let config = try LogConfig(properties: [property.key: property.value])
        #expect(try LogConfig(properties: config.properties) == config)
    }
}

// MARK: - Helpers

/// `STROM_TEST_SEED` if set, so a failure replays; a fixed seed otherwise.
private func logConfigTestSeed() -> UInt64 {
    if let text = getenv("STROM_TEST_SEED"), let seed = UInt64(String(cString: text)) {
        return seed
    }
    return 0x5EED_C0F1_6000_0001
}

/// SplitMix64, seeded, for the round-trip property test.
private struct LogConfigTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `range`, with the range's ends a quarter of the time: where parsing breaks.
    mutating func value<Value: FixedWidthInteger>(in range: ClosedRange<Value>) -> Value {
        switch Int.random(in: 0..<8, using: &self) {
        case 0: range.lowerBound
        case 1: range.upperBound
        default: Value.random(in: range, using: &self)
        }
    }

    mutating func arbitraryLogConfig() -> LogConfig {
        var config = LogConfig.defaults
        config.segmentSizeBytes = self.value(in: LogConfig.segmentSizeBytesMin...Int(Int32.max))
        config.segmentMs = self.value(in: 1...Int64.max)
        config.segmentJitterMs = self.value(in: 0...Int64.max)
        config.segmentIndexSizeBytes = self.value(in: 4...Int(Int32.max))
        config.indexIntervalBytes = self.value(in: 0...Int(Int32.max))
        config.preallocate = Bool.random(using: &self)
        config.fileDeleteDelayMs = self.value(in: 0...Int64.max)
        config.flushIntervalMessages = self.value(in: 1...Int64.max)
        config.flushIntervalMs = self.value(in: 0...Int64.max)
        config.cleanupPolicy = LogConfig.CleanupPolicy(rawValue: UInt8.random(in: 0...3, using: &self))
        config.retentionMs = self.value(in: -1...Int64.max)
        config.retentionSizeBytes = self.value(in: Int64.min...Int64.max)
        config.deleteRetentionMs = self.value(in: 0...Int64.max)
        config.maxCompactionLagMs = self.value(in: 1...Int64.max)
        config.minCompactionLagMs = self.value(in: 0...config.maxCompactionLagMs)
        config.minCleanableDirtyRatio = [0, 1, 0.5, Double.random(in: 0...1, using: &self)].randomElement(
            using: &self
        )!
        config.maxMessageSizeBytes = self.value(in: 0...Int(Int32.max))
        config.messageTimestampType = Bool.random(using: &self) ? .createTime : .logAppendTime
        config.messageTimestampBeforeMaxMs = self.value(in: 0...Int64.max)
        config.messageTimestampAfterMaxMs = self.value(in: 0...Int64.max)
        let compressionTypes: [LogConfig.CompressionType] = [.producer] + CompressionCodec.allCases.map { .codec($0) }
        config.compressionType = compressionTypes.randomElement(using: &self)!
        config.minInSyncReplicas = self.value(in: 1...Int(Int32.max))
        config.uncleanLeaderElectionEnable = Bool.random(using: &self)
        return config
    }
}
