import GatewayAPI
import RoutingTable

extension Translator {
    /// The certificates archway is asked to obtain: for each Gateway of ours annotated
    /// `archway.dev/acme-issuer`, each HTTPS (terminating) listener with a hostname and a Secret as its
    /// first certificateRef. Listeners naming one Secret share one certificate for all their names.
    /// Also the ACMEIssuers' own status (is the spec usable), to which the runtime adds its progress.
    func managedCertificates(_ snapshot: ResourceSnapshot, listeners: ListenerIndex, into statuses: inout StatusSet) -> [ManagedCertificate] {
        let issuers = Dictionary(snapshot.acmeIssuers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        for issuer in snapshot.acmeIssuers {
            let problems = Resource.acmeIssuer(issuer).validationProblems()
            let generation = issuer.metadata.generation ?? 1
            statuses.acmeIssuers[issuer.metadata.name] = ACMEIssuerStatus(conditions: [
                problems.isEmpty
                    ? Condition(type: "Accepted", status: true, reason: "Accepted", message: "orders by \(issuer.challenge.rawValue) from \(issuer.spec.server)",
                                observedGeneration: generation)
                    : Condition(type: "Accepted", status: false, reason: "InvalidParameters",
                                message: problems.map { "\($0.field): \($0.message)" }.joined(separator: "; "), observedGeneration: generation),
            ])
        }
        var bySecret: [NamespacedName: ManagedCertificate] = [:]
        for (key, gateway) in listeners.gateways.sorted(by: { $0.key < $1.key }) {
            guard gateway.rejection == nil, let issuerName = gateway.gateway.metadata.annotations?[ACMEIssuer.gatewayAnnotation] else { continue }
            let issuer = issuers[issuerName]
            for listener in gateway.listeners {
                guard let secret = ACMEIssuer.certificateSecret(of: listener.spec, namespace: listener.origin.namespace),
                      let hostname = listener.spec.hostname else { continue }
                var certificate = bySecret[secret] ?? ManagedCertificate(secret: secret, names: [], issuer: issuerName, listeners: [])
                certificate.names = Array(Set(certificate.names + [hostname.lowercased()])).sorted()
                certificate.listeners.append("\(key.namespace)/\(key.name)/\(listener.served.name)")
                var problem: String?
                if certificate.issuer != issuerName {
                    problem = "Secret \(secret) is asked of ACMEIssuers \(certificate.issuer) and \(issuerName) by different Gateways"
                } else if let issuer {
                    if hostname.hasPrefix("*."), issuer.challenge != .dns01 {
                        problem = "\(hostname) is a wildcard: only DNS-01 can prove it, and ACMEIssuer \(issuerName) uses \(issuer.challenge.rawValue)"
                    } else if issuer.challenge == .http01, !gateway.listeners.contains(where: { Self.answersHTTP01($0, for: hostname, port: 80) }) {
                        problem = "HTTP-01 is answered on port 80, and Gateway \(key) has no usable HTTP listener on port 80 for \(hostname) (add one, or use TLS-ALPN-01 or DNS-01)"
                    } else if issuer.challenge == .tlsALPN01, !gateway.listeners.contains(where: { Self.answersTLSALPN01($0, for: hostname, port: 443) }) {
                        problem = "TLS-ALPN-01 is answered on port 443, and Gateway \(key) has no accepted HTTPS listener on port 443 for \(hostname) (add one, or use HTTP-01)"
                    } else if secret.namespace != key.namespace, listener.origin.namespace != secret.namespace {
                        problem = "Secret \(secret) is in another namespace than Gateway \(key): archway writes certificates only in the listener's own namespace"
                    }
                } else {
                    problem = "ACMEIssuer \(issuerName), named by the Gateway's \(ACMEIssuer.gatewayAnnotation) annotation, does not exist"
                }
                certificate.problem = certificate.problem ?? problem
                bySecret[secret] = certificate
            }
        }
        return bySecret.values.sorted { $0.secret < $1.secret }
    }

    /// Whether a TLS-ALPN-01 challenge for `name` may be answered through this listener: HTTPS that
    /// terminates, accepted and unconflicted, whose hostname covers the name. It need not be usable:
    /// before the first certificate its Secret is missing, and the challenge is how it gets one.
    /// Whether a listener answers HTTP-01 for `name` (on `port` when given): the one rule for where the
    /// answers go and for the problem reported when no port-80 listener would carry them.
    static func answersHTTP01(_ listener: ListenerState, for name: String, port: Int? = nil) -> Bool {
        listener.isUsable && listener.spec.protocol == "HTTP" && (port == nil || listener.spec.port == port)
            && (listener.spec.hostname.map { Hostnames.covers($0.lowercased(), name.lowercased()) } ?? true)
    }

    static func answersTLSALPN01(_ listener: ListenerState, for name: String, port: Int? = nil) -> Bool {
        listener.acceptsRoutes && listener.spec.protocol == "HTTPS" && (listener.spec.tls?.mode ?? "Terminate") == "Terminate"
            && (port == nil || listener.spec.port == port)
            && (listener.spec.hostname.map { Hostnames.covers($0.lowercased(), name.lowercased()) } ?? true)
    }

    /// Whether archway orders a certificate for `name` on this Gateway: it names an ACMEIssuer and one
    /// of its HTTPS listeners asks for that hostname. Challenges for anything else are not answered,
    /// whoever put them on an ACMEIssuer's status: an answer is a certificate for the name.
    static func ordersCertificate(_ gateway: GatewayState, for name: String) -> Bool {
        guard gateway.rejection == nil, gateway.gateway.metadata.annotations?[ACMEIssuer.gatewayAnnotation] != nil else { return false }
        let namespace = gateway.gateway.metadata.namespace ?? "default"
        return gateway.listeners.contains { listener in
            ACMEIssuer.certificateSecret(of: listener.spec, namespace: namespace) != nil
                && listener.spec.hostname.map { Hostnames.covers($0.lowercased(), name.lowercased()) } == true
        }
    }

    /// The TLS-ALPN-01 certificates of orders in progress, on the sockets of every HTTPS listener of
    /// their Gateway that covers the name (the CA connects to 443; other HTTPS ports carrying it do no harm).
    func addTLSChallenges(_ snapshot: ResourceSnapshot, listeners: ListenerIndex, builder: inout TableBuilder) {
        for challenge in snapshot.acmeTLSChallenges {
            guard let gateway = listeners.gateways[challenge.gateway], Self.ordersCertificate(gateway, for: challenge.name) else { continue }
            for listener in gateway.listeners where Self.answersTLSALPN01(listener, for: challenge.name) {
                builder.addTLSChallenge(challenge, through: gateway, listener: listener.served)
            }
        }
    }

    /// The HTTP-01 answers of orders in progress, on every HTTP listener of their Gateway whose
    /// hostname allows the name: an Exact match on the token's path for that one host, with the
    /// oldest possible precedence, so it is taken before any route (a user's route would need the same
    /// host and the same unguessable path to tie).
    func addChallengeAnswers(_ snapshot: ResourceSnapshot, listeners: ListenerIndex, builder: inout TableBuilder) {
        for answer in snapshot.acmeChallengeAnswers {
            guard let gateway = listeners.gateways[answer.gateway], Self.ordersCertificate(gateway, for: answer.name) else { continue }
            for listener in gateway.listeners where Self.answersHTTP01(listener, for: answer.name) {
                builder.addChallengeAnswer(answer, through: gateway, listener: listener.served)
            }
        }
    }
}
