/// Gateway API v1 BackendTLSPolicy: how the gateway speaks TLS to a Service's endpoints.
public struct BackendTLSPolicy: Codable, Sendable, Equatable {
    public struct TargetRef: Codable, Sendable, Equatable {
        public var group: String?
        public var kind: String
        public var name: String
        public var sectionName: String?
    }
    public struct LocalObjectReference: Codable, Sendable, Equatable {
        public var group: String?
        public var kind: String
        public var name: String
    }
    public struct Validation: Codable, Sendable, Equatable {
        public var caCertificateRefs: [LocalObjectReference]?
        public var wellKnownCACertificates: String?
        public var hostname: String
        /// When given, the backend's certificate must carry one of these (and `hostname` is only the SNI).
        public var subjectAltNames: [SubjectAltName]?
    }
    /// `type: Hostname` with `hostname`, or `type: URI` with `uri` (a SPIFFE ID, say).
    public struct SubjectAltName: Codable, Sendable, Equatable {
        public var type: String
        public var hostname: String?
        public var uri: String?
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var targetRefs: [TargetRef]
        public var validation: Validation
    }
    public var metadata: ObjectMeta
    public var spec: Spec
}

public struct ConfigMap: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var data: [String: String]?
}
