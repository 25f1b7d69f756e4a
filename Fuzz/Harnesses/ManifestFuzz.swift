import Yams

// libFuzzer entry for ManifestLoader.parse (Sources/GatewayAPI/ManifestLoader.swift), compiled
// with all of GatewayAPI and an instrumented Yams/libyaml. Arbitrary text must never crash it; every
// document that is not empty comes back as resources or as errors, never silently dropped; errors
// name the file and a document that exists; the same text parses to the same resources twice.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // load(paths:) refuses a file that is not UTF-8 before parsing, so only UTF-8 reaches parse.
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let loader = ManifestLoader()
    let result = loader.parse(text: text, file: "fuzz.yaml")
    func fail(_ why: String) -> Never { fatalError("\(why)\ninput: \(text.debugDescription)") }
    var documents: [Node]? = []
    do {
        let parser = try Parser(yaml: text)
        while let node = try parser.nextRoot() { documents?.append(node) }
    } catch {
        documents = nil
    }
    for error in result.errors {
        guard error.location.file == "fuzz.yaml", !error.message.isEmpty else { fail("an error without its file or message: \(error)") }
        if let documents, error.location.document > max(documents.count, 1) { fail("an error in document \(error.location.document) of \(documents.count)") }
    }
    if documents == nil && result.errors.isEmpty { fail("YAML that does not parse gave no error") }
    if let documents {
        for (index, node) in documents.enumerated() {
            if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" { continue }
            // A list reports its items (none, when it has none), as the loader reads it.
            if let kind = node["kind"]?.string, kind == "List" || kind.hasSuffix("List") && node["items"] != nil { continue }
            let document = index + 1
            guard result.resources.contains(where: { $0.location.document == document }) || result.errors.contains(where: { $0.location.document == document }) else {
                fail("document \(document) gave neither a resource nor an error")
            }
        }
    }
    let again = loader.parse(text: text, file: "fuzz.yaml")
    // Messages are not compared: Yams lists duplicated keys in Set order, which differs between runs.
    guard again.resources == result.resources, again.errors.map(\.location) == result.errors.map(\.location),
          again.errors.map(\.field) == result.errors.map(\.field) else {
        fail("parsing twice differs: \(result.resources.count) resources, \(result.errors.map(\.message)); then \(again.resources.count), \(again.errors.map(\.message))")
    }
    return 0
}
