import Foundation
import StromStorage
import StromTestSupport
import Testing
@testable import StromBroker

/// `strom serve`'s settings: flags win over the environment, which wins over the config file,
/// which wins over Kafka's defaults; the file uses Kafka's properties format and names.
@Suite struct BrokerSettingsTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    func writeConfig(_ text: String) throws -> String {
        let path = directory.path + "/server.properties"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsNeedNothing() async throws {
        let configuration = try await BrokerSettings.load(flags: [:], environment: [:])
        #expect(configuration.listenHost == "127.0.0.1" && configuration.listenPort == 9092)
        #expect(configuration.dataDirectory == "./strom-data" && configuration.defaultPartitionCount == 1)
        #expect(configuration.staticProperties.isEmpty)
    }

    @Test func flagsBeatTheEnvironmentWhichBeatsTheFile() async throws {
        let path = try writeConfig("""
            # a comment
            ! another
            num.partitions=2
            default.replication.factor : 1
            log.retention.ms 1000
            log.cleanup.policy=compact,\\
                delete
            auto.create.topics.enable=false
            log.dirs=/from/file
            """)
        let configuration = try await BrokerSettings.load(
            flags: ["config": path, "num.partitions": "7", "listen": "127.0.0.1:0"],
            environment: ["STROM_NUM_PARTITIONS": "5", "STROM_LOG_RETENTION_MS": "2000", "STROM_DATA_DIR": "/from/env", "UNRELATED": "x"])
        #expect(configuration.defaultPartitionCount == 7, "the flag wins")
        #expect(configuration.logDefaults.retentionMs == 2000, "the environment beats the file")
        #expect(configuration.logDefaults.cleanupPolicy == [.compact, .delete], "a continued line")
        #expect(configuration.autoCreateTopicsEnable == false)
        #expect(configuration.dataDirectory == "/from/env", "STROM_DATA_DIR beats log.dirs")
        #expect(configuration.listenPort == 0)
        #expect(configuration.staticProperties["num.partitions"] == "7" && configuration.staticProperties["log.cleanup.policy"] == "compact,delete")
    }

    @Test func messageMaxBytesIsTheTopicsDefault() async throws {
        let configuration = try await BrokerSettings.load(flags: ["message.max.bytes": "2000000"], environment: [:])
        #expect(configuration.logDefaults.maxMessageSizeBytes == 2_000_000)
    }

    @Test func produceValidationIsStrictUnlessRelaxed() async throws {
        #expect(try await BrokerSettings.load(flags: [:], environment: [:]).produceValidation == .strict)
        let relaxed = try await BrokerSettings.load(flags: [:], environment: ["STROM_PRODUCE_BATCH_VALIDATION": "relaxed"])
        #expect(relaxed.produceValidation == .relaxed)
        #expect(relaxed.describedEntries.contains { $0.name == "produce.batch.validation" && $0.value == "relaxed" })
        await #expect { try await BrokerSettings.load(flags: ["produce.batch.validation": "lax"], environment: [:]) } throws: {
            "\($0)".contains("produce.batch.validation")
        }
    }

    @Test func logFormatAndTheAdminSettingsComeFromTheFileToo() async throws {
        #expect(try await BrokerSettings.load(flags: [:], environment: [:]).logFormat == .text)
        let path = try writeConfig("log.format=JSON\nadmin.listen=127.0.0.1:9700\nalerts.file=/etc/strom/alerts.json\n")
        let configuration = try await BrokerSettings.load(flags: ["config": path], environment: [:])
        #expect(configuration.logFormat == .json)
        #expect(configuration.adminListen?.host == "127.0.0.1" && configuration.adminListen?.port == 9700)
        #expect(configuration.alertsFile == "/etc/strom/alerts.json")
        #expect(configuration.describedEntries.contains { $0.name == "admin.listen" && $0.value == "127.0.0.1:9700" })
        #expect(configuration.describedEntries.contains { $0.name == "log.format" && $0.value == "json" })
        let off = try await BrokerSettings.load(flags: ["config": path], environment: ["STROM_ADMIN_LISTEN": ""])
        #expect(off.adminListen == nil && off.describedEntries.contains { $0.name == "admin.listen" && $0.value == "" })
        await #expect { try await BrokerSettings.load(flags: ["log.format": "xml"], environment: [:]) } throws: { "\($0)".contains("log.format") }
    }

    @Test func mistakesAreRefusedWithTheKeyNamed() async throws {
        let typo = try writeConfig("num.partition=3\n")
        await #expect { try await BrokerSettings.load(flags: ["config": typo], environment: [:]) } throws: { "\($0)".contains("num.partition ") }
        await #expect { try await BrokerSettings.load(flags: ["num.partitions": "many"], environment: [:]) } throws: { "\($0)".contains("num.partitions") }
        await #expect { try await BrokerSettings.load(flags: ["listen": "nowhere"], environment: [:]) } throws: { "\($0)".contains("HOST:PORT") }
        await #expect(throws: (any Error).self) { try await BrokerSettings.load(flags: ["config": directory.path + "/missing"], environment: [:]) }
    }

    @Test func propertiesEscapesAndSeparators() {
        let values = PropertiesFileSnapshot.parse("a=1\nb: two words\nc   3\nd\\=e=f\ng=caf\\u00e9\n  # indented comment\nh=\n")
        #expect(values == ["a": "1", "b": "two words", "c": "3", "d=e": "f", "g": "café", "h": ""])
    }
}
