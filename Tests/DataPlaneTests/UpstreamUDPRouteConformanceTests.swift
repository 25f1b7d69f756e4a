import Foundation
import NIOCore
import Testing

/// The upstream UDPRoute conformance tests: attachment by parentRef, port and sectionName, weights,
/// ReferenceGrant, several routes on one listener.
extension UpstreamStreamConformanceTests {
    /// Conformance: UDPRouteParentRefAttachAllListeners
    /// A UDPRoute without port or sectionName (conformance/tests/udproute-parentref-attach-all-listeners.yaml): a datagram through each of the three listeners is answered by its backend.
    @Test func udpRouteParentRefAttachAllListeners() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteParentRefAttachAllListenersManifest, udp: true,
                                                       backends: ["gateway-conformance-infra/udp-echo-attach-all"], ports: [5310, 5311, 5312])
        defer { Self.stop(harness, channels) }
        for port in [5310, 5311, 5312] {
            #expect(try await Self.udpBackend(harness, port) == "udp-echo-attach-all", "listener port \(port)")
        }
    }

    /// Conformance: UDPRouteParentRefPortAndSectionName
    /// UDPRoutes attached by port, by sectionName and by both (conformance/tests/udproute-parentref-port-and-section-name.yaml): each listener's datagrams reach its route's backend.
    @Test func udpRouteParentRefPortAndSectionName() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteParentRefPortAndSectionNameManifest, udp: true,
                                                       backends: ["by-port", "by-section", "by-section-and-port"].map { "gateway-conformance-infra/udp-echo-\($0)" },
                                                       ports: [5300, 5301, 5302])
        defer { Self.stop(harness, channels) }
        for (port, backend) in [(5300, "udp-echo-by-port"), (5301, "udp-echo-by-section"), (5302, "udp-echo-by-section-and-port")] {
            #expect(try await Self.udpBackend(harness, port) == backend, "listener port \(port)")
        }
    }

    /// Conformance: UDPRouteWeightedRouting
    /// Weights 70/30/0 (conformance/tests/udproute-weighted-routing.yaml): over 200 client flows the split is near 70/30 and the backend of weight 0 gets none.
    @Test func udpRouteWeightedRouting() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteWeightedRoutingManifest, udp: true,
                                                       backends: ["v1", "v2", "v3"].map { "gateway-conformance-infra/udp-backend-\($0)" }, ports: [5300])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[try await Self.udpBackend(harness, 5300) ?? "none", default: 0] += 1 }
        #expect((115...165).contains(counts["udp-backend-v1"] ?? 0) && (counts["udp-backend-v1"] ?? 0) + (counts["udp-backend-v2"] ?? 0) == 200, "\(counts)")
    }

    /// Conformance: UDPRouteReferenceGrant
    /// A UDPRoute's backendRef to gateway-conformance-app-backend with a ReferenceGrant (conformance/tests/udproute-reference-grant.yaml): datagrams reach that backend. (Its status, and the status once the grant is deleted, are fixtures 111 and 112.)
    @Test func udpRouteReferenceGrant() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteReferenceGrantManifest, udp: true,
                                                       backends: ["gateway-conformance-app-backend/udp-echo-reference-grant"], ports: [5300])
        defer { Self.stop(harness, channels) }
        #expect(try await Self.udpBackend(harness, 5300) == "udp-echo-reference-grant")
    }

    /// Conformance: UDPRouteMultipleRoutesAttachment
    /// conformance/tests/udproute-multiple-routes-attachment.yaml and the newer UDPRoute the upstream
    /// test creates a second later (both with creationTimestamps): 100 client flows all reach the older
    /// route's backend. (Both routes Accepted and the listener counting 2 is fixture 119.)
    @Test func udpRouteMultipleRoutesAttachment() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteMultipleRoutesAttachmentManifest, udp: true,
                                                       backends: ["gateway-conformance-infra/udp-attach-backend-1", "gateway-conformance-infra/udp-attach-backend-2"], ports: [5301])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<100 { counts[try await Self.udpBackend(harness, 5301) ?? "none", default: 0] += 1 }
        #expect(counts == ["udp-attach-backend-1": 100], "\(counts)")
    }

}
