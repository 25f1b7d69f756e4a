import Foundation
import NIOCore
import Testing

/// The access log as a platform team reads it: one JSON object per line with the seeds' fields, and
/// the request identity the backend saw.
@Suite(.timeLimit(.minutes(2)))
struct AccessLogTests {
    @Test func oneJSONLinePerRequestWithTheSeedsFields() async throws {
        let harness = GatewayHarness()
        let logPath = harness.directory.deletingLastPathComponent().appendingPathComponent("access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        harness.accessLogPath = logPath
        try await harness.startBackend("shop")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(namespace: "edge").replacingOccurrences(of: "metadata: {name: gw, namespace: edge}",
                                                                       with: "metadata: {name: gw, namespace: edge, labels: {environment: production}}"),
            Manifests.service("shop", namespace: "team-a", targetPort: harness.backendPorts["shop"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop-route, namespace: team-a, labels: {tenant: acme}}
            spec:
              parentRefs: [{name: gw, namespace: edge}]
              hostnames: [shop.example.com]
              rules: [{backendRefs: [{name: shop, port: 80}]}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let served = try await harness.send(.POST, "/cart/items?id=7", host: "shop.example.com",
                                            headers: [("X-Request-Id", "req-42"), ("Content-Length", "0")])
        #expect(served.status == 200)
        #expect(served.echoHeaders["x-request-id"] == "req-42", "the client's request id reaches the backend")
        let traceparent = served.echoHeaders["traceparent"] ?? ""
        #expect(traceparent.range(of: #"^00-[0-9a-f]{32}-[0-9a-f]{16}-00$"#, options: .regularExpression) != nil, "a trace is started: \(traceparent)")
        let unrouted = try await harness.send("/nothing", host: "nowhere.example.com")
        #expect(unrouted.status == 404)
        // Shutting the gateway down flushes the log; the test's clients and backends stop later.
        await harness.runtime.shutdown()

        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let entries = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        let shop = try #require(entries.first { $0["route_name"] as? String == "shop-route" })
        #expect(shop["gateway_name"] as? String == "gw")
        #expect(shop["namespace"] as? String == "team-a")
        #expect(shop["backend_name"] as? String == "shop")
        #expect(shop["hostname"] as? String == "shop.example.com")
        #expect(shop["path"] as? String == "/cart/items", "the path without the query")
        #expect(shop["method"] as? String == "POST")
        #expect(shop["status_code"] as? Int == 200)
        #expect(shop["environment"] as? String == "production", "from the Gateway's label")
        #expect(shop["tenant"] as? String == "acme", "from the route's label")
        #expect(shop["request_id"] as? String == "req-42")
        #expect(shop["client_address"] as? String == "127.0.0.1")
        #expect(shop["upstream_address"] as? String == "127.0.0.1:\(harness.backendPorts["shop"]!)")
        #expect(shop["retry_count"] as? Int == 0)
        #expect((shop["bytes_sent"] as? Int ?? 0) == served.bodyBytes)
        let duration = shop["duration_ms"] as? Double ?? -1, upstream = shop["upstream_duration_ms"] as? Double ?? -1
        #expect(duration > 0 && upstream > 0 && upstream <= duration)
        let timestamp = shop["timestamp"] as? String ?? ""
        #expect(timestamp.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(timestamp)")

        let missing = try #require(entries.first { $0["status_code"] as? Int == 404 })
        #expect(missing["hostname"] as? String == "nowhere.example.com" && missing["route_name"] as? String == "")
        #expect((missing["request_id"] as? String)?.count == 32, "a request id is made when the client sends none")
        #expect(missing["upstream_address"] is NSNull)
    }

    /// With an OTLP endpoint, each request's server span is exported under the caller's trace, and
    /// the backend sees archway's span as its parent.
    @Test(arguments: [true, false]) func serverSpansAreExportedOverOTLP(fastLane: Bool) async throws {
        let collector = RecordingBackend(name: "collector")
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        let collectorPort = try await collector.start(group: harness.group)
        defer { Task { await collector.stop() } }
        harness.otlpEndpoint = "http://127.0.0.1:\(collectorPort)/v1/traces"
        try await harness.startBackend("shop")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("shop", targetPort: harness.backendPorts["shop"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop-route}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: shop, port: 80}]}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let trace = "4bf92f3577b34da6a3ce929d0e0e4736", callerSpan = "00f067aa0ba902b7"
        let served = try await harness.send("/cart", host: "shop.example.com", headers: [("traceparent", "00-\(trace)-\(callerSpan)-01")])
        #expect(served.status == 200)
        let forwarded = served.echoHeaders["traceparent"] ?? ""
        #expect(forwarded.hasPrefix("00-\(trace)-") && !forwarded.contains(callerSpan), "same trace, archway's span as parent: \(forwarded)")

        try await ResilienceTests.eventually { collector.requests.contains { $0.path == "/v1/traces" } }
        let export = try #require(collector.requests.first { $0.path == "/v1/traces" })
        #expect(export.method == "POST")
        let json = try JSONSerialization.jsonObject(with: Data(export.body)) as? [String: Any] ?? [:]
        let spans = (json["resourceSpans"] as? [[String: Any]] ?? []).flatMap { ($0["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] } }
        let span = try #require(spans.first)
        // swift-otel's JSON carries ids as base64 (protobuf's JSON mapping), not OTLP/JSON's hex.
        func hex(_ field: String) -> String {
            guard let text = span[field] as? String, let bytes = Data(base64Encoded: text) else { return "?" }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }
        #expect(hex("traceId") == trace)
        #expect(hex("parentSpanId") == callerSpan)
        #expect(forwarded.contains(hex("spanId")), "the backend's parent is the exported span")
        let attributes = Dictionary(uniqueKeysWithValues: (span["attributes"] as? [[String: Any]] ?? []).map {
            ($0["key"] as? String ?? "", (($0["value"] as? [String: Any])?.values.first).map { "\($0)" } ?? "")
        })
        #expect(attributes["http.route"] == "default/shop-route")
        #expect(attributes["http.response.status_code"] == "200")
        #expect(attributes["url.path"] == "/cart")
    }
}
