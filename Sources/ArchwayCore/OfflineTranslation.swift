import DataPlane
import GatewayAPI
import Translator

/// Manifests loaded from disk and translated once, without serving: what `status` and `check` read.
struct OfflineTranslation {
    let load: ManifestLoader.Result
    let snapshot: ResourceSnapshot
    let result: Translator.Result
    /// The translator used, for what `describe` asks of it afterwards (the policies reaching a route).
    let translator: Translator

    init(paths: [String], controllerName: String, ingress: IngressServing? = IngressServing()) {
        self.init(load: ManifestLoader().load(paths: paths), controllerName: controllerName, ingress: ingress)
    }

    /// Objects read elsewhere (a cluster), translated the same way.
    init(load: ManifestLoader.Result, controllerName: String, ingress: IngressServing? = IngressServing()) {
        self.load = load
        snapshot = ResourceSnapshot(load.resources.map(\.resource))
        let certificates = TLSContextCache()
        var options = Translator.Options(controllerName: controllerName, certificateCheck: { certificates.problem(chainPEM: $0, keyPEM: $1) })
        options.caBundleCheck = { certificates.problem(caPEM: $0) }
        options.ingress = ingress
        options.loadBalancers = LoadBalancerServing()
        translator = Translator(options: options)
        var result = translator.translate(snapshot)
        // Translated once, nothing orders: the certificates asked of an ACMEIssuer are listed as such.
        let report = CertificateProgress.notOrdered(result.certificates, snapshot: snapshot,
                                                    why: "not ordered by `archway status`: `archway status --admin ADDR` shows where a running archway stands")
        result.statuses = CertificateProgress.written(report, for: result.certificates, on: result.statuses)
        self.result = result
    }
}
