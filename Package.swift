// swift-tools-version: 6.2
import PackageDescription

// Strom: a Kafka-compatible streaming platform. Modules, import rules, data paths, the etcd key
// layout and the replication protocol: docs/ARCHITECTURE.md.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "strom",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "StromStorage", targets: ["StromStorage"]),
        .library(name: "StromCluster", targets: ["StromCluster"]),
        .library(name: "StromBroker", targets: ["StromBroker"]),
        .library(name: "StromClient", targets: ["StromClient"]),
        .executable(name: "strom", targets: ["StromCLI"]),
        .executable(name: "StromCodegen", targets: ["StromCodegen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Kafka's properties format is Strom's own snapshot; JSON is for the alert rules file.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["JSON"]),
        // etcd's v3 JSON gateway (HTTP/1.1, streamed watches) without a gRPC/protobuf toolchain.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // The admin listener (metrics, health, JSON) and the metrics it serves.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The console's login off loopback: bcrypt password hashes and cookie sessions.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
    ],
    targets: [
        // C shims over the compression libraries Debian ships (zlib1g-dev, libsnappy-dev, liblz4-dev, libzstd-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // CRC-32C with the CPU's crc32 instruction and a portable fallback, chosen at run time.
        .target(name: "CCRC32C", path: "Sources/CCRC32C"),
        .target(
            name: "KafkaProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "CCRC32C", "CZlib", "CSnappy", "CLZ4", "CZstd",
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StromStorage",
            dependencies: ["KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // Cluster metadata behind one interface: embedded (one broker, persisted in the data
        // directory) or etcd (a cluster); the controller's pure decisions.
        .target(
            name: "StromCluster",
            dependencies: [
                "KafkaProtocol", "StromStorage", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StromBroker",
            dependencies: [
                // StromClient: followers fetch from leaders with the client's connection.
                "KafkaProtocol", "StromStorage", "StromCluster", "StromClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // The client library: a connection per broker, version negotiation, admin, produce, fetch.
        .target(
            name: "StromClient",
            dependencies: [
                "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The web console's pages, rendered on the server from the broker's status views.
        .target(
            name: "StromConsole",
            dependencies: ["StromBroker"],
            swiftSettings: strictSettings
        ),
        // The admin listener: Prometheus metrics, health and readiness over HTTP (Hummingbird).
        .target(
            name: "StromAdmin",
            dependencies: [
                "StromBroker", "StromConsole", "StromClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // `strom`: the broker (`strom serve`) and the command-line tools; it only parses.
        .executableTarget(
            name: "StromCLI",
            dependencies: [
                "StromBroker", "StromAdmin", "StromClient", "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The admin listeners' /v1/ JSON (alerts, group status).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Shared by the test targets and the crash tests' child process: seeded randomness,
        // temporary directories, an in-process broker.
        .target(
            name: "StromTestSupport",
            dependencies: [
                "KafkaProtocol", "StromBroker", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "StromCodegen", swiftSettings: strictSettings),
        // The child process of the storage crash test: appends with fsync, reports acknowledgements.
        .executableTarget(
            name: "StromLogWriter",
            dependencies: ["StromStorage", "KafkaProtocol", "StromTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KafkaProtocolTests",
            dependencies: ["KafkaProtocol", "StromTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StromStorageTests",
            dependencies: ["StromStorage", "KafkaProtocol", "StromLogWriter", "StromTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StromClusterTests",
            dependencies: [
                "StromCluster", "StromStorage", "StromTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StromBrokerTests",
            dependencies: [
                "StromBroker", "StromAdmin", "StromConsole", "StromCluster", "StromStorage", "KafkaProtocol", "StromTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // The client and the CLI's topic/produce/consume commands against an in-process broker.
        .testTarget(
            name: "StromClientTests",
            dependencies: [
                "StromClient", "StromCLI", "StromBroker", "StromStorage", "KafkaProtocol", "StromTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
