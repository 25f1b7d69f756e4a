import Foundation
import GatewayAPI
import Testing
import Yams

/// An object from the API server (parsed by `JSONSerialization`, turned into nodes directly) must
/// decode exactly as the same object written as JSON text in a manifest file: same resources, same
/// errors, same messages.
struct JSONManifestTests {
    /// What the Reflector has in hand for `document`: JSON as the API server sends it, parsed.
    private func fromAPIServer(_ document: Any) throws -> (object: [String: Any], text: String)? {
        guard JSONSerialization.isValidJSONObject(document) else { return nil }
        let data = try JSONSerialization.data(withJSONObject: document)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        // The text with its keys sorted, as the nodes are: with two bad values in one map, which is
        // reported first must not depend on a dictionary's order.
        return (object, String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }

    private func expectSameDecoding(_ object: [String: Any], text: String, _ comment: String) {
        let fromText = ManifestLoader().parse(text: text, file: "object")
        let fromObject = ManifestLoader().parse(json: object, file: "object")
        #expect(fromObject.resources == fromText.resources, "\(comment)")
        #expect(fromObject.errors.map(\.description) == fromText.errors.map(\.description), "\(comment)")
    }

    /// Every document of every fixture (those JSON can hold), valid and invalid alike.
    @Test func everyFixtureDocumentDecodesAsItsJSONText() throws {
        var compared = 0
        var refused = 0
        for name in FixtureTests.names {
            let text = try String(contentsOfFile: FixtureTests.directory.appendingPathComponent(name).path, encoding: .utf8)
            for document in try Yams.load_all(yaml: text) {
                guard let (object, json) = try fromAPIServer(document as Any) else { continue }
                expectSameDecoding(object, text: json, "\(name): \(json.prefix(120))")
                compared += 1
                if !ManifestLoader().parse(text: json, file: "object").errors.isEmpty { refused += 1 }
            }
        }
        // The corpus must really have been read, invalid documents included.
        #expect(compared > 1000)
        #expect(refused > 10)
    }

    /// Scalars whose meaning hangs on YAML styles: quoted strings that look like booleans, numbers or
    /// null; integral and fractional doubles; a `<<` key; unicode and escapes; wrong types, whose
    /// messages must match too.
    @Test func scalarsMeanWhatTheirJSONTextMeans() throws {
        let route = #"""
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "r", "namespace": "default", "labels": {"a": "true", "b": "null", "c": "80", "<<": "x"},
                      "annotations": {"note": "caf\u00e9 \"quoted\" \\ back\nline"}},
         "spec": {"parentRefs": [{"name": "gw", "port": 80.0}], "hostnames": ["a.example"],
                  "rules": [{"backendRefs": [{"name": "svc", "port": 8080, "weight": 2.0}], "timeouts": null}]}}
        """#
        let badType = #"""
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
         "spec": {"parentRefs": [{"name": "gw", "port": "80"}], "rules": [{"backendRefs": [{"name": "svc", "port": 1.5}]}]}}
        """#
        let badBool = #"""
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "s-1", "namespace": "n"},
         "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": "true"}}]}
        """#
        for text in [route, badType, badBool] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let (parsed, json) = try #require(try fromAPIServer(object))
            expectSameDecoding(parsed, text: json, json)
        }
        let decoded = ManifestLoader().parse(json: try #require(try JSONSerialization.jsonObject(with: Data(route.utf8)) as? [String: Any]), file: "object")
        guard case .httpRoute(let decodedRoute) = try #require(decoded.resources.first?.resource) else {
            Issue.record("not a route: \(decoded.errors)")
            return
        }
        #expect(decodedRoute.metadata.labels == ["a": "true", "b": "null", "c": "80", "<<": "x"])
        #expect(decodedRoute.metadata.annotations?["note"] == "café \"quoted\" \\ back\nline")
        #expect(decodedRoute.spec.parentRefs?.first?.port == 80)
        #expect(ManifestLoader().parse(json: try #require(try JSONSerialization.jsonObject(with: Data(badType.utf8)) as? [String: Any]),
                                       file: "object").errors.count == 1)
        #expect(ManifestLoader().parse(json: try #require(try JSONSerialization.jsonObject(with: Data(badBool.utf8)) as? [String: Any]),
                                       file: "object").errors.count == 1, "a quoted \"true\" is not a boolean")
    }

    /// Numbers as the API server may send them, in an integer field: each path must accept or refuse
    /// the same ones, with the same message (`-0`, `1e21` and fractions are refused; literals longer
    /// than a double holds, integral doubles and `Int64.min` are read).
    @Test(arguments: ["7", "2.0", "-0.0", "0.5", "1e15", "1000000000000000.0", "1e21", "-9223372036854775808",
                      "0.30000000000000004", "99999999999999999999", "1E2"])
    func numbersMeanWhatTheirJSONTextMeans(_ weight: String) throws {
        let text = """
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "default"},
         "spec": {"rules": [{"backendRefs": [{"name": "svc", "port": 80, "weight": \(weight)}]}]}}
        """
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let (parsed, json) = try #require(try fromAPIServer(object))
        expectSameDecoding(parsed, text: json, json)
    }

    /// `managedFields` is left out of the tree; the object decodes as its JSON text (which has them) does.
    @Test func managedFieldsAreNotRead() throws {
        let text = #"""
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n",
          "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:ports": {}}}}]},
         "spec": {"ports": [{"port": 80}]}}
        """#
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let decoded = ManifestLoader().parse(json: object, file: "object")
        #expect(decoded.errors.isEmpty && decoded.resources.count == 1)
        expectSameDecoding(object, text: text, "with managedFields")
    }
}
