import Foundation
import GatewayAPI
import RoutingTable
import Translator
import Yams

/// ingress-nginx's CORS and cookie-affinity annotations as their Gateway API counterparts: the
/// HTTPRoute CORS filter and a rule's sessionPersistence (auth, limits and allow lists, which become
/// archway policies, are in EdgePolicyAnnotations.swift). Defaults are ingress-nginx's, so an
/// Ingress that only says `enable-cors: "true"` keeps the headers it had.
struct EdgeAnnotations {
    let ingress: Ingress
    /// Only ingress-nginx reads these annotations; for another controller they say nothing.
    let controller: IngressController

    func value(_ name: String) -> String? {
        guard controller == .ingressNginx || controller == .traefik else { return nil }
        return ingress.annotation(IngressIntent.nginx + name)?.trimmingCharacters(in: .whitespaces)
    }

    func list(_ name: String, default fallback: String = "") -> [String] {
        (value(name) ?? fallback).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    var corsFilter: Node? {
        guard value("enable-cors")?.lowercased() == "true" else { return nil }
        let maxAge = value("cors-max-age").flatMap { Int($0) } ?? 1_728_000
        let credentials = value("cors-allow-credentials").map { $0.lowercased() == "true" } ?? true
        let policy = CORSPolicy(
            allowOrigins: list("cors-allow-origin", default: "*"), allowCredentials: credentials,
            allowMethods: list("cors-allow-methods", default: "GET, PUT, POST, DELETE, PATCH, OPTIONS"),
            allowHeaders: list("cors-allow-headers", default: "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"),
            exposeHeaders: list("cors-expose-headers", default: ""), maxAge: maxAge)
        return Manifest.corsFilter(policy, maxAge: maxAge)
    }

    /// `affinity: cookie` → a Cookie session named like ingress-nginx's cookie; a max-age or expires
    /// makes it a permanent cookie with that absolute timeout.
    var sessionPersistence: Node? {
        guard value("affinity")?.lowercased() == "cookie" else { return nil }
        let lifetime = value("session-cookie-max-age") ?? value("session-cookie-expires")
        return Manifest.map([
            ("sessionName", Manifest.str(value("session-cookie-name") ?? "INGRESSCOOKIE")),
            ("type", Manifest.str("Cookie")),
            ("absoluteTimeout", lifetime.flatMap { Int($0) }.map { Manifest.str("\($0)s") }),
            ("cookieConfig", Manifest.map([("lifetimeType", Manifest.str(lifetime == nil ? "Session" : "Permanent"))])),
        ])
    }
}
