// swift-tools-version: 6.2
import PackageDescription

// Benchmarks that print figures (throughput, allocations); kept out of the main package so its
// build and CI stay lean. Run with ../scripts/bench-protocol.sh.
let package = Package(
    name: "strom-benchmarks",
    dependencies: [
        .package(name: "strom", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Counts malloc calls in-process, so "no per-record allocation" is a measured number.
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.6.1"),
    ],
    targets: [
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                .product(name: "StromStorage", package: "strom"),
                .product(name: "KafkaProtocol", package: "strom"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "ProtocolBenchmarks",
            dependencies: [
                .product(name: "KafkaProtocol", package: "strom"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
