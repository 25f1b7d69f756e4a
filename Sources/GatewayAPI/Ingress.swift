/// networking.k8s.io/v1 Ingress: what teams migrate from. Served side by side when its class is
/// archway's, converted by `archway migrate`, counted by `archway inventory`.
public struct Ingress: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var ingressClassName: String?
        public var defaultBackend: Backend?
        public var tls: [TLS]?
        public var rules: [Rule]?
    }

    public struct Backend: Codable, Sendable, Equatable {
        public struct ServiceBackend: Codable, Sendable, Equatable {
            public var name: String
            public var port: ServicePort
        }
        public struct ServicePort: Codable, Sendable, Equatable {
            public var number: Int?
            public var name: String?
        }
        public struct ResourceReference: Codable, Sendable, Equatable {
            public var apiGroup: String?
            public var kind: String
            public var name: String
        }
        public var service: ServiceBackend?
        public var resource: ResourceReference?
    }

    public struct TLS: Codable, Sendable, Equatable {
        public var hosts: [String]?
        public var secretName: String?
        public init(hosts: [String]?, secretName: String?) {
            self.hosts = hosts
            self.secretName = secretName
        }
    }

    public struct Rule: Codable, Sendable, Equatable {
        public var host: String?
        public var http: HTTP?
    }

    public struct HTTP: Codable, Sendable, Equatable {
        public var paths: [Path]
    }

    public struct Path: Codable, Sendable, Equatable {
        public enum PathType: String, Codable, Sendable { case Exact, Prefix, ImplementationSpecific }
        public var path: String?
        public var pathType: PathType
        public var backend: Backend
    }

    public var metadata: ObjectMeta
    public var spec: Spec

    /// The class it asks for: `spec.ingressClassName`, else the deprecated annotation.
    public var className: String? {
        spec.ingressClassName ?? metadata.annotations?["kubernetes.io/ingress.class"]
    }

    public func annotation(_ key: String) -> String? { metadata.annotations?[key] }
}

public struct IngressClass: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var controller: String?
    }
    public var metadata: ObjectMeta
    public var spec: Spec

    public static let isDefaultAnnotation = "ingressclass.kubernetes.io/is-default-class"
    public var isDefault: Bool { metadata.annotations?[Self.isDefaultAnnotation] == "true" }
}

extension Ingress.Backend {
    /// "name:port" as people write it in reports.
    public var description: String {
        if let service {
            return "\(service.name):\(service.port.number.map(String.init) ?? service.port.name ?? "?")"
        }
        if let resource { return "\(resource.kind)/\(resource.name)" }
        return "(none)"
    }
}
