/// The two GKE custom resources a GCE Ingress leans on, read so that `archway migrate` and the
/// side-by-side serving can honour what they ask for (IngressController `.gce`):
/// - networking.gke.io FrontendConfig, named by the Ingress's `networking.gke.io/v1beta1.FrontendConfig`
///   annotation: the HTTP-to-HTTPS redirect of the load balancer, and its SSL policy;
/// - cloud.google.com BackendConfig, named by a Service's `cloud.google.com/backend-config` annotation:
///   the backend service's timeout, health check, session affinity and the Cloud features (CDN, IAP,
///   Cloud Armor...) that have no Gateway API counterpart.
/// Only the fields archway converts are typed; every other field is kept by name, so that the report
/// can say what became of it instead of dropping it silently.
public struct FrontendConfig: Decodable, Sendable, Equatable {
    public static let group = "networking.gke.io"

    public struct RedirectToHTTPS: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var responseCodeName: String?
    }
    public struct Spec: Decodable, Sendable, Equatable {
        public var redirectToHttps: RedirectToHTTPS?
        public var sslPolicy: String?
    }
    public var metadata: ObjectMeta
    public var spec: Spec?

    /// GKE's names for the redirect codes; MOVED_PERMANENTLY_DEFAULT is what it uses when none is given.
    public static let redirectCodes = ["MOVED_PERMANENTLY_DEFAULT": 301, "FOUND": 302, "SEE_OTHER": 303,
                                       "TEMPORARY_REDIRECT": 307, "PERMANENT_REDIRECT": 308]

    /// The status code cleartext requests are redirected to HTTPS with; nil when they are not.
    public var redirectCode: Int? {
        guard let redirect = spec?.redirectToHttps, redirect.enabled == true else { return nil }
        return Self.redirectCodes[redirect.responseCodeName ?? "MOVED_PERMANENTLY_DEFAULT"]
    }

    func validate(into problems: inout Problems) {
        if let name = spec?.redirectToHttps?.responseCodeName {
            problems.require(Self.redirectCodes[name] != nil, "spec.redirectToHttps.responseCodeName",
                             "\"\(name)\" is not one of " + Self.redirectCodes.keys.sorted().joined(separator: ", "))
        }
    }
}

public struct BackendConfig: Decodable, Sendable, Equatable {
    public static let group = "cloud.google.com"

    public struct HealthCheck: Codable, Sendable, Equatable {
        public var checkIntervalSec: Int?
        public var timeoutSec: Int?
        public var healthyThreshold: Int?
        public var unhealthyThreshold: Int?
        /// HTTP, HTTPS or HTTP2.
        public var type: String?
        public var port: Int?
        public var requestPath: String?
    }
    public struct SessionAffinity: Codable, Sendable, Equatable {
        /// NONE, CLIENT_IP, GENERATED_COOKIE, HEADER_FIELD, HTTP_COOKIE.
        public var affinityType: String?
        public var affinityCookieTtlSec: Int?
    }
    public struct Spec: Decodable, Sendable, Equatable {
        public var timeoutSec: Int?
        public var healthCheck: HealthCheck?
        public var sessionAffinity: SessionAffinity?
        /// Every field the spec has, typed or not (cdn, iap, securityPolicy, connectionDraining, logging...).
        public var fields: [String] = []

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            fields = container.allKeys.map(\.stringValue).sorted()
            timeoutSec = try container.decodeIfPresent(Int.self, forKey: Key("timeoutSec"))
            healthCheck = try container.decodeIfPresent(HealthCheck.self, forKey: Key("healthCheck"))
            sessionAffinity = try container.decodeIfPresent(SessionAffinity.self, forKey: Key("sessionAffinity"))
        }
    }
    public var metadata: ObjectMeta
    public var spec: Spec?

    /// Where a Service names its BackendConfigs: `{"default": "name"}` or `{"ports": {"80": "name"}}`.
    public static let serviceAnnotations = ["cloud.google.com/backend-config", "beta.cloud.google.com/backend-config"]

    func validate(into problems: inout Problems) {
        if let timeout = spec?.timeoutSec { problems.require(timeout >= 1, "spec.timeoutSec", "must be at least 1 second") }
        if let check = spec?.healthCheck {
            for (value, field) in [(check.checkIntervalSec, "checkIntervalSec"), (check.timeoutSec, "timeoutSec"),
                                   (check.healthyThreshold, "healthyThreshold"), (check.unhealthyThreshold, "unhealthyThreshold")] {
                if let value { problems.require(value >= 1, "spec.healthCheck.\(field)", "must be at least 1") }
            }
            problems.require(check.requestPath?.hasPrefix("/") ?? true, "spec.healthCheck.requestPath", "must be an absolute path")
        }
    }
}
