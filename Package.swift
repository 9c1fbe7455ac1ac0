// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Rill",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Rill", targets: ["Rill"]),
        .library(name: "RillRocksDB", targets: ["RillRocksDB"]),
        .library(name: "RillKafka", targets: ["RillKafka"]),
        .library(name: "RillTestDriver", targets: ["RillTestDriver"]),
        .library(name: "RillHTTP", targets: ["RillHTTP"]),
        .executable(name: "rill", targets: ["rill"]),
        .executable(name: "call-volume", targets: ["call-volume"]),
        .executable(name: "appointment-funnel", targets: ["appointment-funnel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        // RillHTTP only: the HTTP endpoint and its Prometheus metrics (the core stays light).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // In-process benchmarks only (`make bench-in-process`); it counts allocations with its own interposer.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // C libraries, wrapped once by the Swift targets above them.
        .systemLibrary(
            name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(
            name: "CRocksDB", path: "Sources/CRocksDB", pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev"])]),
        // RocksDB's write-buffer manager, which its C API does not expose.
        .target(name: "CRocksDBMemory", dependencies: ["CRocksDB"], path: "Sources/CRocksDBMemory"),

        // What users import: DSL, topology, Processor API, serdes. Pure Swift.
        .target(
            name: "Rill",
            dependencies: [.product(name: "Logging", package: "swift-log")]),
        // Persistent state stores on RocksDB.
        .target(name: "RillRocksDB", dependencies: ["Rill", "CRocksDB", "CRocksDBMemory"]),
        // The runtime on Kafka, through librdkafka.
        .target(
            name: "RillKafka",
            dependencies: [
                "Rill", "RillRocksDB", "CRdKafka", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]),
        // A second, deterministic runtime for unit tests.
        .target(
            name: "RillTestDriver",
            dependencies: ["Rill", "RillRocksDB", .product(name: "Logging", package: "swift-log")]),
        // Looking inside a running application over HTTP: health, Prometheus metrics, the topology,
        // store queries routed to the instance that holds the key, and pages of its own.
        .target(
            name: "RillHTTP",
            dependencies: [
                "Rill", "RillKafka", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // CLI: `rill dev-broker`, `rill describe`.
        .executableTarget(
            name: "rill",
            dependencies: [
                "Rill", "RillKafka", "CallVolume", "AppointmentFunnel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The sample apps: each a library with its topology, and an executable (worker or demo).
        .target(name: "CallVolume", dependencies: ["Rill"], path: "Examples/CallVolume/CallVolume"),
        .target(name: "AppointmentFunnel", dependencies: ["Rill"], path: "Examples/AppointmentFunnel/AppointmentFunnel"),
        .target(
            name: "ExampleSupport",
            dependencies: [
                "Rill", "RillKafka", "RillHTTP", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Examples/Support"),
        .executableTarget(
            name: "call-volume", dependencies: ["CallVolume", "ExampleSupport", "RillKafka"], path: "Examples/CallVolume/App"),
        .executableTarget(
            name: "appointment-funnel", dependencies: ["AppointmentFunnel", "ExampleSupport", "RillKafka"],
            path: "Examples/AppointmentFunnel/App"),

        // `make bench`: throughput against raw baselines, in one process run.
        .target(name: "MallocCounter", path: "Benchmarks/MallocCounter"),
        // What both benchmark executables run in process.
        .target(
            name: "BenchmarkWorkloads", dependencies: ["Rill", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/Workloads"),
        .executableTarget(
            name: "RillBenchmarks",
            dependencies: [
                "Rill", "RillKafka", "RillRocksDB", "RillTestDriver", "CRdKafka", "CRocksDB", "MallocCounter",
                "CallVolume", "AppointmentFunnel", "BenchmarkWorkloads", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RillBenchmarks"),
        // `make bench-in-process`: the in-process scenarios under ordo-one/benchmark.
        .executableTarget(
            name: "InProcessBenchmarks",
            dependencies: ["Rill", "BenchmarkWorkloads", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/InProcessBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),

        // What several test targets share.
        .target(name: "TestSupport", path: "Tests/Support"),
        .target(name: "KafkaTestSupport", dependencies: ["TestSupport", "Rill", "RillKafka"], path: "Tests/KafkaSupport"),
        .testTarget(name: "RillTests", dependencies: ["Rill", "RillTestDriver", "TestSupport"]),
        .testTarget(name: "RillTestDriverTests", dependencies: ["Rill", "RillTestDriver", "TestSupport"]),
        .testTarget(name: "RillRocksDBTests", dependencies: ["Rill", "RillRocksDB", "RillTestDriver", "CRocksDB"]),
        // A worker process the runtime tests start, kill and restart.
        .executableTarget(
            name: "WindowedCountWorker", dependencies: ["Rill", "RillKafka", .product(name: "Logging", package: "swift-log")],
            path: "Tests/WindowedCountWorker"),
        .testTarget(
            name: "RillKafkaTests",
            dependencies: [
                "Rill", "RillKafka", "RillRocksDB", "RillTestDriver", "CRdKafka", "CallVolume", "AppointmentFunnel", "TestSupport",
                "KafkaTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]),
        .testTarget(
            name: "RillHTTPTests",
            dependencies: [
                "Rill", "RillKafka", "RillHTTP", "KafkaTestSupport", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "SampleAppTests",
            dependencies: ["CallVolume", "AppointmentFunnel", "Rill", "RillKafka", "RillTestDriver", "ExampleSupport"]),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
