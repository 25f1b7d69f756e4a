import GatewayAPI

extension GatewayRuntime {
    /// Where archway stands on the certificates Gateways ask of an ACMEIssuer, written where operators
    /// look: each ACMEIssuer's status lists its certificates (state, expiry, renewal, the last error and
    /// the next attempt), and a listener whose Secret is not there yet says so in its ResolvedRefs
    /// condition. Starts the orders that are due.
    func certificateProgress(_ certificates: [ManagedCertificate], snapshot: ResourceSnapshot, userSecrets: Set<NamespacedName>,
                             on statuses: StatusSet) async -> StatusSet {
        guard !certificates.isEmpty || !snapshot.acmeIssuers.isEmpty else { return statuses }
        var result = statuses
        let report: (byIssuer: [String: [ACMEIssuerStatus.CertificateStatus]], accounts: [String: String], pending: [NamespacedName: String])
        if let acme = acmeAutomation {
            await acme.setSecrets(Array(snapshot.secrets.values))
            await acme.reconcile(wanted: certificates, issuers: snapshot.acmeIssuers, userSecrets: userSecrets)
            report = await acme.report()
        } else {
            let why = options.kubernetes != nil
                ? "archway orders certificates itself in file mode only, for now; in a cluster use cert-manager (see the README)"
                : "archway orders certificates only with serve --state-dir, where it keeps the ACME account and the certificates"
            var byIssuer: [String: [ACMEIssuerStatus.CertificateStatus]] = [:]
            var pending: [NamespacedName: String] = [:]
            for certificate in certificates {
                byIssuer[certificate.issuer, default: []].append(.init(secret: "\(certificate.secret)", names: certificate.names,
                                                                       state: "NotOrdered", message: certificate.problem ?? why))
                if snapshot.secrets[certificate.secret] == nil { pending[certificate.secret] = "not ordered: \(certificate.problem ?? why)" }
            }
            report = (byIssuer, [:], pending)
        }
        for name in result.acmeIssuers.keys {
            result.acmeIssuers[name]?.certificates = report.byIssuer[name] ?? []
            result.acmeIssuers[name]?.account = report.accounts[name]
        }
        for certificate in certificates {
            guard let message = report.pending[certificate.secret] else { continue }
            for ref in certificate.listeners {
                // "gateway-ns/gateway/listener", or ".../set-ns/set/listener" for a ListenerSet's.
                let parts = ref.split(separator: "/", maxSplits: 2).map(String.init)
                let served = parts[2].split(separator: "/").map(String.init)
                if served.count == 3 {
                    let set = NamespacedName(served[0], served[1])
                    let listeners = result.listenerSets[set]?.listeners ?? []
                    result.listenerSets[set]?.listeners = Self.noting(message, onListener: served[2], in: listeners)
                } else {
                    let gateway = NamespacedName(parts[0], parts[1])
                    let listeners = result.gateways[gateway]?.listeners ?? []
                    result.gateways[gateway]?.listeners = Self.noting(message, onListener: parts[2], in: listeners)
                }
            }
        }
        return result
    }

    /// Adds the certificate's progress to a listener's ResolvedRefs=False message.
    private static func noting(_ message: String, onListener name: String, in listeners: [ListenerStatus]) -> [ListenerStatus] {
        listeners.map { listener in
            guard listener.name == name else { return listener }
            var listener = listener
            for index in listener.conditions.indices where listener.conditions[index].type == "ResolvedRefs" && listener.conditions[index].status == "False" {
                listener.conditions[index].message += "; " + message
            }
            return listener
        }
    }
}
