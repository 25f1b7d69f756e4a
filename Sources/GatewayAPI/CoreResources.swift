/// Core Kubernetes kinds archway reads: Service, EndpointSlice, Secret, Namespace.

public struct Service: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var type: String?
        public var clusterIP: String?
        public var ports: [Port]?
        public var selector: [String: String]?
        /// Which load balancer implementation serves a LoadBalancer Service; nil: the cluster's default.
        public var loadBalancerClass: String?
        /// The address asked for (deprecated upstream, still what users write).
        public var loadBalancerIP: String?
        public var ipFamilies: [String]?
        public var ipFamilyPolicy: String?
    }
    public struct Port: Codable, Sendable, Equatable {
        public var name: String?
        public var port: Int
        public var targetPort: IntOrString?
        public var `protocol`: String?
        public var appProtocol: String?
    }
    /// `status.loadBalancer.ingress`: where a LoadBalancer Service is reachable; a Gateway served
    /// through it reports these as its addresses.
    public struct Status: Codable, Sendable, Equatable {
        public struct LoadBalancer: Codable, Sendable, Equatable {
            public struct Ingress: Codable, Sendable, Equatable {
                public var ip: String?
                public var hostname: String?
                public init(ip: String? = nil, hostname: String? = nil) {
                    self.ip = ip
                    self.hostname = hostname
                }
            }
            public var ingress: [Ingress]?
            public init(ingress: [Ingress]?) { self.ingress = ingress }
            public init(ips: [String]) { ingress = ips.map { Ingress(ip: $0) } }
        }
        public var loadBalancer: LoadBalancer?
        /// Read for archway's own condition type: a Service that carries it got its address from us.
        public var conditions: [Condition]?
        public init(loadBalancer: LoadBalancer?, conditions: [Condition]? = nil) {
            self.loadBalancer = loadBalancer
            self.conditions = conditions
        }
    }
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
}

public struct EndpointSlice: Codable, Sendable, Equatable {
    public struct Endpoint: Codable, Sendable, Equatable {
        public struct Conditions: Codable, Sendable, Equatable {
            public var ready: Bool?
            public var serving: Bool?
            public var terminating: Bool?
        }
        public var addresses: [String]
        public var conditions: Conditions?
        public var hostname: String?
        public var nodeName: String?
        public var zone: String?

        /// The API says a nil `ready` must be read as ready.
        public var isReady: Bool { conditions?.ready ?? true }
    }
    public struct Port: Codable, Sendable, Equatable {
        public var name: String?
        public var port: Int?
        public var `protocol`: String?
        public var appProtocol: String?
    }
    public var metadata: ObjectMeta
    public var addressType: String
    public var endpoints: [Endpoint]?
    public var ports: [Port]?

    public static let serviceNameLabel = "kubernetes.io/service-name"
    public var serviceName: String? { metadata.labels?[Self.serviceNameLabel] }
}

public struct Secret: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
    public var type: String?
    public var data: [String: String]?
    public var stringData: [String: String]?

    public init(metadata: ObjectMeta, type: String? = nil, data: [String: String]? = nil, stringData: [String: String]? = nil) {
        self.metadata = metadata
        self.type = type
        self.data = data
        self.stringData = stringData
    }
}

public struct Namespace: Codable, Sendable, Equatable {
    public var metadata: ObjectMeta
}
