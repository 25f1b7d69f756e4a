import DataPlane
import GatewayAPI
import Translator

/// Manifests loaded from disk and translated once, without serving: what `status` and `check` read.
struct OfflineTranslation {
    let load: ManifestLoader.Result
    let snapshot: ResourceSnapshot
    let result: Translator.Result

    init(paths: [String], controllerName: String) {
        load = ManifestLoader().load(paths: paths)
        snapshot = ResourceSnapshot(load.resources.map(\.resource))
        let certificates = TLSContextCache()
        result = Translator(options: .init(controllerName: controllerName,
                                           certificateCheck: { certificates.problem(chainPEM: $0, keyPEM: $1) })).translate(snapshot)
    }
}
