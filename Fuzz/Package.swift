// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets, kept out of the main package so that its build never needs the fuzzer
// runtime. Build and run with ../scripts/fuzz.sh.
let package = Package(
    name: "strom-fuzz",
    dependencies: [
        .package(name: "strom", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzRequestDecoder",
            dependencies: [.product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzRecordBatch",
            dependencies: [.product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        // Request sequences through a whole in-process broker (handlers, groups, logs on a simulated disk).
        .executableTarget(
            name: "FuzzBrokerRequests",
            dependencies: [
                .product(name: "StromBroker", package: "strom"), .product(name: "StromStorage", package: "strom"),
                .product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        // Arbitrary segment and index files through recovery, reads, appends and compaction.
        .executableTarget(
            name: "FuzzLogRecovery",
            dependencies: [
                .product(name: "StromStorage", package: "strom"), .product(name: "KafkaProtocol", package: "strom"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
