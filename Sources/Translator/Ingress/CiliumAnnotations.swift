import GatewayAPI
import RoutingTable

/// What an Ingress's Cilium annotations (`ingress.cilium.io/*`) ask for, read once for both readings.
/// Cilium turns each Ingress into Envoy routes:
/// - Exact and Prefix paths as the Ingress spec defines them (Prefix matches whole segments);
///   ImplementationSpecific is a regular expression Envoy matches against the whole path
///   (`/impl.+`), so a path without metacharacters matches only itself; Envoy tries exact paths,
///   then regexes longest first, then prefixes longest first;
/// - `force-https` (`enabled` / `disabled`, or true / false): hosts with TLS redirect cleartext
///   requests to https (Envoy's https_redirect, 301). Without it Cilium follows its
///   `enforce-ingress-https` setting, which the Helm chart turns on, so TLS hosts redirect then too;
/// - `tls-passthrough`: the host's TLS is passed to the backend of its "/" path, nothing in cleartext;
/// - `request-timeout` (a Go duration, "10s", "1m30s", "250ms"): Envoy's route timeout;
/// - `loadbalancer-mode`, `service-type`, node ports, `host-listener-port` and `loadbalancer-class`
///   shape the Service in front of Envoy, not the routing.
public struct CiliumAnnotations: Sendable, Equatable {
    public static let prefix = IngressController.cilium.annotationPrefix

    /// nil: not said, or a value Cilium does not read as a toggle (then its global setting decides).
    public var forceHTTPS: Bool?
    public var tlsPassthrough = false
    /// `request-timeout` in milliseconds; nil when absent, zero or not a Go duration.
    public var requestTimeoutMillis: Int?

    public init(_ ingress: Ingress) {
        func value(_ key: String) -> String? { ingress.annotation(Self.prefix + key)?.trimmingSpaces }
        forceHTTPS = value("force-https").flatMap(Self.toggle)
        tlsPassthrough = value("tls-passthrough").flatMap(Self.toggle) ?? false
        requestTimeoutMillis = value("request-timeout").flatMap(GoDuration.millis).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Cilium's reading of a toggle: "enabled" / "disabled", else what Go's strconv.ParseBool accepts.
    static func toggle(_ text: String) -> Bool? {
        switch text {
        case "enabled", "1", "t", "T", "TRUE", "true", "True": true
        case "disabled", "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    /// Milliseconds as a Gateway API duration (at most five digits per unit): "90s", "1h30m", "250ms".
    public static func gatewayDuration(millis: Int) -> String {
        var text = ""
        var rest = millis
        for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text.isEmpty ? "0s" : text
    }

    /// The route timeout as the routing table holds it.
    public var routeTimeouts: RouteTimeouts? {
        requestTimeoutMillis.map { RouteTimeouts(requestMillis: $0, backendRequestMillis: nil) }
    }
}
