import Foundation
import GatewayAPI
import Testing

struct ManifestLoaderTests {
    @Test func syntaxErrorIsReportedNotTruncated() {
        let text = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: fine}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r
        """
        let result = ManifestLoader().parse(text: text, file: "half-written.yaml")
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.description.hasPrefix("half-written.yaml: document 2: not valid YAML") == true)
    }

    @Test func jsonAndListsAndUnknownKinds() {
        let text = """
        {"apiVersion": "v1", "kind": "List", "items": [
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 80, "targetPort": "http"}]}},
          {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "x"}}
        ]}
        """
        let result = ManifestLoader().parse(text: text, file: "list.json")
        #expect(result.errors.isEmpty)
        #expect(result.resources.map(\.resource.ref.description) == ["Service default/a", "Deployment x/d"])
        if case .service(let service) = result.resources.first?.resource {
            #expect(service.spec?.ports?.first?.targetPort == .string("http"))
        } else {
            Issue.record("first item is not a Service")
        }
    }

    @Test func duplicateObjectsAcrossFilesAreReported() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-dup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
        try service.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try (service + "---\n").write(to: directory.appendingPathComponent("b.yml"), atomically: true, encoding: .utf8)
        try "not a manifest".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let result = ManifestLoader().load(paths: [directory.path])
        #expect(result.resources.count == 2)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.description.contains("b.yml: document 1 (Service default/a): defined twice; first definition at") == true)
    }
}
