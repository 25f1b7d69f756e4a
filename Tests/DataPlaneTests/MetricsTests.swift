import Foundation
import NIOCore
import Testing

/// The admin endpoint's metrics after known traffic: exact counts per route, backend and status, and
/// the extra series (bytes, upstream time, retries, mirrors, ejections, pool, TLS) with their labels.
@Suite(.timeLimit(.minutes(2)))
struct MetricsTests {
    /// "name{labels}" → value, from the Prometheus text format.
    static func scrape(_ harness: GatewayHarness) async throws -> [String: Double] {
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        defer { Task { await admin.close() } }
        let text = try await admin.request(.GET, "/metrics", host: "admin").text
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test func knownTrafficGivesExactSeries() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("good")
        let flaky = RecordingBackend(name: "flaky", status: 503)
        let shadow = RecordingBackend(name: "shadow")
        let broken = RecordingBackend(name: "broken", status: 500)
        let flakyPort = try await flaky.start(group: harness.group)
        let shadowPort = try await shadow.start(group: harness.group)
        let brokenPort = try await broken.start(group: harness.group)
        defer { Task { await flaky.stop(); await shadow.stop(); await broken.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("shop", targetPorts: [flakyPort, harness.backendPorts["good"]!]),
            Manifests.service("shadow", targetPort: shadowPort),
            Manifests.service("broken", targetPort: brokenPort),
            BackendTrafficPolicyTests.policy("broken", "outlierDetection: {consecutive5xx: 1}"),
            ServiceLevelTests.shopSLO,
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /broken}}]
                backendRefs: [{name: broken, port: 80}]
              - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}]
                retry: {codes: [503], attempts: 1}
                backendRefs: [{name: shop, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let client = try await harness.client()
        var bytesOut = 0
        for _ in 0..<6 {
            let response = try await client.request(.GET, "/items", host: "m.example.com")
            #expect(response.status == 200)
            bytesOut += response.bodyBytes
        }
        let post = try await client.request(.POST, "/items", host: "m.example.com", bodyChunks: 1, chunkSize: 1000)
        #expect(post.status == 200)
        #expect(try await client.request(.GET, "/broken", host: "m.example.com").status == 500)
        await client.close()
        try await ResilienceTests.eventually { shadow.requests.count == 7 }

        let labels = #"gateway_name="gw",namespace="default",route_name="shop",backend_name="shop""#
        var samples: [String: Double] = [:]
        for _ in 0..<50 {  // a mirror's result is counted when its response has been read
            samples = try await Self.scrape(harness)
            if samples[#"gateway_http_mirrored_requests_total{\#(labels),method="GET",mirror_backend="shadow",result="sent"}"#] == 6 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(samples[#"gateway_http_requests_total{\#(labels),method="GET",status="200"}"#] == 6)
        #expect(samples[#"gateway_http_requests_total{\#(labels),method="POST",status="200"}"#] == 1)
        let retries = (samples[#"gateway_http_retries_total{\#(labels),method="GET"}"#] ?? 0)
            + (samples[#"gateway_http_retries_total{\#(labels),method="POST"}"#] ?? 0)
        #expect(retries == Double(flaky.requests.count) && retries > 0, "every try that met the flaky endpoint was retried once")
        #expect(samples[#"gateway_http_request_bytes_total{\#(labels),method="POST"}"#] == 1000)
        #expect(samples[#"gateway_http_response_bytes_total{\#(labels),method="GET"}"#] == Double(bytesOut))
        #expect(samples[#"gateway_http_upstream_duration_seconds_count{\#(labels),method="GET"}"#] == 6)
        #expect(samples[#"gateway_http_mirrored_requests_total{\#(labels),method="GET",mirror_backend="shadow",result="sent"}"#] == 6)
        #expect(samples[#"gateway_backend_ejections_total{service="default/broken:80"}"#] == 1)
        #expect((samples["gateway_upstream_connections"] ?? 0) >= 1, "pooled backend connections are counted")
        #expect(samples["gateway_config_reloads_total"] == 1)

        // Every series the bundled Grafana dashboard queries is one archway exports.
        let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/grafana/archway-dashboard.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard)) as? [String: Any] ?? [:]
        let exprs = (json["panels"] as? [[String: Any]] ?? []).flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= 12)
        let exported = Set(samples.keys.map { String($0.prefix { $0 != "{" }) })
        for expr in exprs {
            for name in expr.matches(of: /gateway_[a-z_]+(?![a-z_]*\s*[=!~])/).map({ String($0.output) }) where name != "gateway_name" {
                #expect(exported.contains(name), "the dashboard queries \(name), which archway does not export")
            }
        }
    }
}
