import GatewayAPI
import RoutingTable

/// Gateway `spec.tls.frontend`: which CAs an HTTPS listener checks client certificates against. The
/// perPort entry for a listener's port replaces the default (even when it sets no validation).
/// References are checked as the spec asks, on every HTTPS listener they apply to: a bad one makes
/// ResolvedRefs False (InvalidCACertificateKind, RefNotPermitted, InvalidCACertificateRef); when none
/// is usable the listener is not accepted (NoValidCACertificate), as serving it without client
/// validation would let in exactly the clients the Gateway means to keep out.
struct FrontendValidationResolution {
    var validation: ClientCertificateValidation?
    var problem: (reason: String, message: String)?
    var noValidCA = false
    var unsupportedMode: String?
}

extension Translator {
    /// The validation settings that apply to a listener, if any: only HTTPS listeners terminate TLS
    /// for HTTP traffic, which is what the frontend block is for.
    static func frontendValidation(for listener: Gateway.Listener, of gateway: Gateway) -> Gateway.FrontendValidation? {
        guard listener.protocol == "HTTPS", let frontend = gateway.spec.tls?.frontend else { return nil }
        if let perPort = frontend.perPort?.first(where: { $0.port == listener.port }) {
            return perPort.tls?.validation
        }
        return frontend.default?.validation
    }

    /// Sets the listener's client validation and reports its broken CA references.
    func applyFrontendValidation(to state: inout ListenerState, of gateway: Gateway, snapshot: ResourceSnapshot) {
        guard let validation = Self.frontendValidation(for: state.spec, of: gateway) else { return }
        let resolution = resolveFrontendValidation(validation, gatewayNamespace: gateway.metadata.namespace ?? "default", snapshot: snapshot)
        if let problem = resolution.problem, state.refsProblem == nil { state.refsProblem = problem }
        if state.acceptedProblem == nil {
            if let mode = resolution.unsupportedMode {
                state.acceptedProblem = ("UnsupportedValue", "frontend validation mode \"\(mode)\" is not AllowValidOnly or AllowInsecureFallback")
            } else if resolution.noValidCA {
                state.acceptedProblem = ("NoValidCACertificate",
                                         "no caCertificateRef of the Gateway's client certificate validation for port \(state.spec.port) is usable")
            }
        }
        state.tls?.clientValidation = resolution.validation
    }

    func resolveFrontendValidation(_ validation: Gateway.FrontendValidation, gatewayNamespace: String,
                                   snapshot: ResourceSnapshot) -> FrontendValidationResolution {
        var resolution = FrontendValidationResolution()
        let mode: ClientCertificateValidation.Mode
        switch validation.mode ?? "AllowValidOnly" {
        case "AllowValidOnly": mode = .allowValidOnly
        case "AllowInsecureFallback": mode = .allowInsecureFallback
        case let other:
            resolution.unsupportedMode = other
            return resolution
        }
        var bundle = ""
        var sources: [String] = []
        for ref in validation.caCertificateRefs ?? [] {
            switch caCertificate(ref, gatewayNamespace: gatewayNamespace, snapshot: snapshot) {
            case .success(let pem):
                bundle += pem.hasSuffix("\n") ? pem : pem + "\n"
                sources.append("\(ref.kind) \(ref.namespace ?? gatewayNamespace)/\(ref.name)")
            case .failure(let failure):
                resolution.problem = resolution.problem ?? (failure.reason, failure.message)
            }
        }
        if sources.isEmpty {
            resolution.noValidCA = true
            resolution.problem = resolution.problem ?? ("InvalidCACertificateRef", "client certificate validation names no caCertificateRefs")
        } else {
            resolution.validation = ClientCertificateValidation(caPEM: bundle, mode: mode, sources: sources)
        }
        return resolution
    }

    private struct CACertificateFailure: Error {
        var reason: String
        var message: String
    }

    /// A CA bundle from the `ca.crt` key of a ConfigMap (the spec's core support) or a Secret.
    private func caCertificate(_ ref: ObjectReference, gatewayNamespace: String,
                               snapshot: ResourceSnapshot) -> Swift.Result<String, CACertificateFailure> {
        let group = ref.group ?? ""
        let namespace = ref.namespace ?? gatewayNamespace
        let name = "\(namespace)/\(ref.name)"
        guard group.isEmpty || group == "core", ref.kind == "ConfigMap" || ref.kind == "Secret" else {
            return .failure(.init(reason: "InvalidCACertificateKind",
                                  message: "caCertificateRef \(group.isEmpty ? "" : group + "/")\(ref.kind) \(name) is not a ConfigMap or Secret"))
        }
        guard snapshot.referenceAllowed(fromGroup: GatewayAPIGroup.name, fromKind: "Gateway", fromNamespace: gatewayNamespace,
                                        toGroup: "", toKind: ref.kind, toNamespace: namespace, toName: ref.name) else {
            return .failure(.init(reason: "RefNotPermitted",
                                  message: "\(ref.kind) \(name) is in another namespace and no ReferenceGrant there allows this Gateway to use it"))
        }
        let pem = ref.kind == "ConfigMap"
            ? snapshot.configMaps[NamespacedName(namespace, ref.name)]?.data?["ca.crt"]
            : snapshot.secrets[NamespacedName(namespace, ref.name)]?.value(forKey: "ca.crt")
        guard let pem, pem.contains("-----BEGIN CERTIFICATE-----") else {
            return .failure(.init(reason: "InvalidCACertificateRef",
                                  message: "\(ref.kind) \(name) does not exist or has no PEM certificate under ca.crt"))
        }
        if let problem = options.caBundleCheck?(pem) {
            return .failure(.init(reason: "InvalidCACertificateRef", message: "\(ref.kind) \(name) ca.crt cannot be used: \(problem)"))
        }
        return .success(pem)
    }

    /// The Gateway condition the spec asks for while any client validation lets unverified clients in.
    static func insecureFrontendCondition(_ gateway: Gateway, generation: Int64) -> Condition? {
        let frontend = gateway.spec.tls?.frontend
        let validations = [frontend?.default?.validation] + (frontend?.perPort ?? []).map { $0.tls?.validation }
        guard validations.contains(where: { $0?.mode == "AllowInsecureFallback" }) else { return nil }
        return Condition(type: "InsecureFrontendValidationMode", status: true, reason: "ConfigurationChanged",
                         message: "client certificate validation is AllowInsecureFallback: clients without a valid certificate are let in",
                         observedGeneration: generation)
    }
}
