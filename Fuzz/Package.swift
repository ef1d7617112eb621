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
        // Hands each target's entry point to libFuzzer's driver.
        .target(name: "FuzzDriver", swiftSettings: [.swiftLanguageMode(.v6)]),
        .executableTarget(
            name: "FuzzRequestDecoder",
            dependencies: ["FuzzDriver", .product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        .executableTarget(
            name: "FuzzRecordBatch",
            dependencies: ["FuzzDriver", .product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        // Request sequences through a whole in-process broker (handlers, groups, logs on a simulated disk).
        .executableTarget(
            name: "FuzzBrokerRequests",
            dependencies: [
                "FuzzDriver", .product(name: "StromBroker", package: "strom"), .product(name: "StromStorage", package: "strom"),
                .product(name: "KafkaProtocol", package: "strom"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
        // Arbitrary segment and index files through recovery, reads, appends and compaction.
        .executableTarget(
            name: "FuzzLogRecovery",
            dependencies: [
                "FuzzDriver", .product(name: "StromStorage", package: "strom"), .product(name: "KafkaProtocol", package: "strom"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
