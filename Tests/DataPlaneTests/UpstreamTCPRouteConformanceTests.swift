import Foundation
import NIOCore
import Testing

/// The upstream TCPRoute conformance tests: attachment by parentRef, port and sectionName, weights,
/// ReferenceGrant, several routes on one listener.
extension UpstreamStreamConformanceTests {
    /// Conformance: TCPRouteParentRefAttachAll
    /// A TCPRoute without port or sectionName (conformance/tests/tcproute-parentref-attach-all.yaml): a connection through each of the four listeners reaches its backend.
    @Test func tcpRouteParentRefAttachAll() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteParentRefAttachAllManifest,
                                                       backends: ["gateway-conformance-infra/tcp-echo-attach-all"], ports: [9310, 9311, 9312, 9313])
        defer { Self.stop(harness, channels) }
        for port in [9310, 9311, 9312, 9313] {
            #expect(try await Self.tcpBackend(harness, port) == "tcp-echo-attach-all", "listener port \(port)")
        }
    }

    /// Conformance: TCPRouteParentRefPortAndSectionName
    /// TCPRoutes attached by port, by sectionName and by both (conformance/tests/tcproute-parentref-port-and-section-name.yaml): each listener's connections reach its route's backend.
    @Test func tcpRouteParentRefPortAndSectionName() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteParentRefPortAndSectionNameManifest,
                                                       backends: ["one", "two", "three"].map { "gateway-conformance-infra/tcp-echo-\($0)" }, ports: [9300, 9301, 9302])
        defer { Self.stop(harness, channels) }
        for (port, backend) in [(9300, "tcp-echo-one"), (9301, "tcp-echo-two"), (9302, "tcp-echo-three")] {
            #expect(try await Self.tcpBackend(harness, port) == backend, "listener port \(port)")
        }
    }

    /// Conformance: TCPRouteWeightedRouting
    /// Weights 70/30/0 (conformance/tests/tcproute-weighted-routing.yaml): over 200 connections the split is near 70/30 and the backend of weight 0 gets none.
    @Test func tcpRouteWeightedRouting() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteWeightedRoutingManifest,
                                                       backends: ["v1", "v2", "v3"].map { "gateway-conformance-infra/tcp-backend-\($0)" }, ports: [9300])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[try await Self.tcpBackend(harness, 9300) ?? "none", default: 0] += 1 }
        #expect((115...165).contains(counts["tcp-backend-v1"] ?? 0) && (counts["tcp-backend-v1"] ?? 0) + (counts["tcp-backend-v2"] ?? 0) == 200, "\(counts)")
    }

    /// Conformance: TCPRouteReferenceGrant
    /// A TCPRoute's backendRef to gateway-conformance-web-backend with a ReferenceGrant (conformance/tests/tcproute-reference-grant.yaml): connections reach that backend. (Its status, and the status once the grant is deleted, are fixtures 106 and 107.)
    @Test func tcpRouteReferenceGrant() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteReferenceGrantManifest,
                                                       backends: ["gateway-conformance-web-backend/tcp-reference-grant-backend"], ports: [9320])
        defer { Self.stop(harness, channels) }
        #expect(try await Self.tcpBackend(harness, 9320) == "tcp-reference-grant-backend")
    }

    /// Conformance: TCPRouteMultipleRoutesAttachment
    /// conformance/tests/tcproute-multiple-routes-attachment.yaml and the newer TCPRoute the upstream
    /// test creates a second later (here both with creationTimestamps, as the API server sets them):
    /// 100 connections all reach the older route's backend. (Both routes Accepted and the listener
    /// counting 2 is fixture 118.)
    @Test func tcpRouteMultipleRoutesAttachment() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteMultipleRoutesAttachmentManifest,
                                                       backends: ["gateway-conformance-infra/tcp-attach-backend-1", "gateway-conformance-infra/tcp-attach-backend-2"], ports: [9310])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<100 { counts[try await Self.tcpBackend(harness, 9310) ?? "none", default: 0] += 1 }
        #expect(counts == ["tcp-attach-backend-1": 100], "\(counts)")
    }

}
