// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
/// The request path: exclusivity is proven by event-loop confinement, so the runtime checks go in release.
let hotPath: [SwiftSetting] = strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "archway",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "archway", targets: ["archway"])],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // The Kubernetes provider's REST client (no Swift Kubernetes client is available).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // Edge policies: API-key digests, JWT validation (RSA and EC JWKS), htpasswd bcrypt hashes.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // Only its HummingbirdBcrypt product (bcrypt over a small C core) is built.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // OTLP/HTTP only: the gRPC exporter would bring grpc-swift for nothing archway needs.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // ACME: certificate signing requests, the TLS-ALPN-01 challenge certificate, chain parsing and ARI's certID.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        /// Writes the commit and compiler version into BuildInfo before every build (see the plugin's comment).
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        /// The version, commit and compiler of this build; nothing else, so a new commit recompiles one small file.
        .target(name: "BuildInfo", swiftSettings: strict, plugins: ["BuildInfoPlugin"]),
        .target(name: "GatewayAPI", dependencies: ["Yams"], swiftSettings: strict),
        .target(name: "RoutingTable", swiftSettings: hotPath),
        .target(name: "Translator", dependencies: ["GatewayAPI", "RoutingTable", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: strict),
        .target(name: "Migrate", dependencies: ["GatewayAPI", "RoutingTable", "Translator", "Yams"], swiftSettings: strict),
        .target(name: "Observability", dependencies: [
            "BuildInfo",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], swiftSettings: hotPath),
        /// ARP / NDP answers, rtnetlink and the replica choice of layer-2 announcement; of archway only the address type.
        .target(name: "L2Announcement", dependencies: [
            "GatewayAPI",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], swiftSettings: strict),
        .target(name: "DataPlane", dependencies: [
            "RoutingTable", "Observability",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOExtras", package: "swift-nio-extras"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], swiftSettings: hotPath),
        .target(name: "Providers", dependencies: [
            "GatewayAPI", "Yams",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        /// RFC 8555 client core: account, order, challenges, finalization, renewal information. No archway types.
        .target(name: "ACME", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            // DNS-01's RFC 2136 updates: UDP and TCP channels to the zone's primary.
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        .target(name: "ArchwayCore", dependencies: [
            "GatewayAPI", "RoutingTable", "Translator", "Migrate", "DataPlane", "Providers", "Observability", "L2Announcement", "ACME",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "OTel", package: "swift-otel"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            "Yams",
        ], swiftSettings: strict),
        .executableTarget(name: "archway", dependencies: [
            "ArchwayCore", "Providers", "GatewayAPI", "L2Announcement", "BuildInfo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .testTarget(name: "TranslatorTests", dependencies: ["Translator", "GatewayAPI", "RoutingTable", "Migrate", "ArchwayCore", "Yams"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "DataPlaneTests", dependencies: [
            "ArchwayCore", "Providers", "GatewayAPI", "RoutingTable", "L2Announcement", "Yams", "PebbleLab",
            // To sign test tokens and hash test passwords as real identity providers and htpasswd do.
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], exclude: ["Peers"], swiftSettings: strict),
        /// Against a real Pebble and pebble-challtestsrv (Debian package `pebble`), and BIND's named (Debian
        /// `bind9`) for RFC 2136, started by the tests.
        // Pebble and pebble-challtestsrv started for a test, shared by the ACME client's tests and the
        // data plane's (cluster-mode ordering). Built only with the tests.
        .target(name: "PebbleLab", dependencies: [
            "ACME",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], path: "Tests/PebbleLab", swiftSettings: strict),
        .testTarget(name: "ACMETests", dependencies: [
            "ACME", "PebbleLab",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], swiftSettings: strict),
    ]
)
