/// Gateway `spec.tls` (Gateway API v1.6): how clients are verified on HTTPS listeners (`frontend`) and
/// which certificate the Gateway presents to backends it reaches over TLS (`backend`).
extension Gateway {
    public struct GatewayTLSConfig: Codable, Sendable, Equatable {
        public var backend: BackendTLS?
        public var frontend: FrontendTLS?
        public init(backend: BackendTLS? = nil, frontend: FrontendTLS? = nil) {
            self.backend = backend
            self.frontend = frontend
        }
    }

    public struct BackendTLS: Codable, Sendable, Equatable {
        public var clientCertificateRef: SecretObjectReference?
        public init(clientCertificateRef: SecretObjectReference?) { self.clientCertificateRef = clientCertificateRef }
    }

    /// `default` applies to every HTTPS listener; a `perPort` entry replaces it on its port.
    public struct FrontendTLS: Codable, Sendable, Equatable {
        public var `default`: FrontendTLSSettings?
        public var perPort: [PortTLSSettings]?
    }

    public struct FrontendTLSSettings: Codable, Sendable, Equatable {
        public var validation: FrontendValidation?
    }

    public struct PortTLSSettings: Codable, Sendable, Equatable {
        public var port: Int
        public var tls: FrontendTLSSettings?
    }

    public struct FrontendValidation: Codable, Sendable, Equatable {
        public var caCertificateRefs: [ObjectReference]?
        /// "AllowValidOnly" (the default) or "AllowInsecureFallback".
        public var mode: String?
    }
}

/// A reference to any object, possibly in another namespace (then a ReferenceGrant must allow it).
public struct ObjectReference: Codable, Sendable, Equatable {
    public var group: String?
    public var kind: String
    public var name: String
    public var namespace: String?
}

extension Gateway {
    /// The Secrets and ConfigMaps `spec.tls` names (CA bundles, the backend client certificate), which
    /// a provider that does not load every object of a cluster must fetch.
    public var tlsReferencedObjects: Set<ObjectRef> {
        let namespace = metadata.namespace ?? "default"
        var refs: Set<ObjectRef> = []
        if let ref = spec.tls?.backend?.clientCertificateRef, (ref.group ?? "").isEmpty, (ref.kind ?? "Secret") == "Secret" {
            refs.insert(ObjectRef(kind: "Secret", namespace: ref.namespace ?? namespace, name: ref.name))
        }
        let frontend = spec.tls?.frontend
        let validations = [frontend?.default?.validation] + (frontend?.perPort ?? []).map { $0.tls?.validation }
        for ref in validations.compactMap({ $0 }).flatMap({ $0.caCertificateRefs ?? [] })
        where (ref.group ?? "").isEmpty && ["ConfigMap", "Secret"].contains(ref.kind) {
            refs.insert(ObjectRef(kind: ref.kind, namespace: ref.namespace ?? namespace, name: ref.name))
        }
        return refs
    }
}
