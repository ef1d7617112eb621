import Configuration
import Foundation

/// Where `strom serve` takes its settings from, first match wins: command-line flags, then
/// environment variables (`STROM_` and the key in upper snake case: `STROM_NUM_PARTITIONS`,
/// `STROM_LOG_RETENTION_MS`, `STROM_LISTEN`, `STROM_DATA_DIR`, `STROM_CONFIG`), then the config
/// file (Kafka's `server.properties` names), then Kafka's defaults. Read with swift-configuration.
public enum BrokerSettings {
    /// Strom's own keys besides Kafka's: `listen` (HOST:PORT), `data.dir`, `config` (the file) and `admin.listen`.
    public static let listenKey = "listen"
    public static let dataDirectoryKey = "data.dir"
    public static let configFileKey = "config"
    /// The admin listener: HOST:PORT, or empty for none (`STROM_ADMIN_LISTEN`).
    public static let adminListenKey = "admin.listen"
    /// The alert rules file (`STROM_ALERTS_FILE`).
    public static let alertsFileKey = "alerts.file"
    /// The console's admin password and read-only password, as bcrypt hashes
    /// (`strom console hash-password`); asked only off loopback.
    public static let consolePasswordHashKey = "console.password.hash"
    public static let consoleReadOnlyPasswordHashKey = "console.readonly.password.hash"

    public struct InvalidSetting: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter flags: values given on the command line, by key (Strom's keys or Kafka's).
    public static func load(
        flags: [String: String], environment: [String: String]? = nil
    ) async throws -> BrokerConfiguration {
        let flagProvider = InMemoryProvider(
            name: "flags",
            values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey(ConfigKey($0.key)), ConfigValue(.string($0.value), isSecret: false)) }))
        let environmentProvider = EnvironmentVariablesProvider(environmentVariables: environment ?? ProcessInfo.processInfo.environment).prefixKeys(with: "strom")
        var providers: [any ConfigProvider] = [flagProvider, environmentProvider]
        var fileKeys: [String] = []
        if let path = ConfigReader(providers: providers).string(forKey: ConfigKey(configFileKey)) {
            let file = try await FileProvider<PropertiesFileSnapshot>(filePath: .init(path))
            fileKeys = (file.snapshot() as? PropertiesFileSnapshot).map { Array($0.values.keys) } ?? []
            let known = Set(BrokerProperties.knownKeys)
            if let unknown = fileKeys.sorted().first(where: { !known.contains($0) }) {
                throw InvalidSetting(description: "\(path): \(unknown) is unknown or not supported yet")
            }
            providers.append(file)
        }
        let reader = ConfigReader(providers: providers)

        var properties: [String: String] = [:]
        for key in BrokerProperties.knownKeys {
            if let value = reader.string(forKey: ConfigKey(key)) { properties[key] = value }
        }
        var configuration = BrokerConfiguration()
        try BrokerProperties.apply(properties, to: &configuration)
        if let directory = reader.string(forKey: ConfigKey(dataDirectoryKey)) {
            configuration.dataDirectory = directory
            configuration.staticProperties["log.dirs"] = directory
        }
        let listen = reader.string(forKey: ConfigKey(listenKey)) ?? "\(configuration.listenHost):\(configuration.listenPort)"
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            throw InvalidSetting(description: "listen must be HOST:PORT, not \(listen)")
        }
        configuration.listenHost = String(listen[..<colon])
        configuration.listenPort = port
        if let admin = reader.string(forKey: ConfigKey(adminListenKey)) {
            if admin.isEmpty {
                configuration.adminListen = nil
            } else {
                guard let colon = admin.lastIndex(of: ":"), let port = Int(admin[admin.index(after: colon)...]), (0...65_535).contains(port) else {
                    throw InvalidSetting(description: "admin.listen must be HOST:PORT or empty, not \(admin)")
                }
                configuration.adminListen = (String(admin[..<colon]), port)
            }
        }
        if let file = reader.string(forKey: ConfigKey(alertsFileKey)), !file.isEmpty { configuration.alertsFile = file }
        for (key, path) in [(consolePasswordHashKey, \BrokerConfiguration.consolePasswordHash), (consoleReadOnlyPasswordHashKey, \.consoleReadOnlyPasswordHash)] {
            guard let hash = reader.string(forKey: ConfigKey(key), isSecret: true), !hash.isEmpty else { continue }
            guard hash.hasPrefix("$2"), hash.count == 60 else { throw InvalidSetting(description: "\(key) must be a bcrypt hash (strom console hash-password makes one)") }
            configuration[keyPath: path] = hash
        }
        return configuration
    }
}
