import GatewayAPI

extension GatewayRuntime {
    /// Where archway stands on the certificates Gateways ask of an ACMEIssuer, written where operators
    /// look: each ACMEIssuer's status lists its certificates (state, expiry, renewal, the last error and
    /// the next attempt), and a listener whose Secret is not there yet says so in its ResolvedRefs
    /// condition. Starts the orders that are due.
    func certificateProgress(_ certificates: [ManagedCertificate], snapshot: ResourceSnapshot, userSecrets: Set<NamespacedName>,
                             on statuses: StatusSet) async -> StatusSet {
        guard !certificates.isEmpty || !snapshot.acmeIssuers.isEmpty else { return statuses }
        let report: CertificateProgress.Report
        if let acme = acmeAutomation {
            await acme.reconcile(wanted: certificates, issuers: snapshot.acmeIssuers, userSecrets: userSecrets, secrets: snapshot.secrets)
            report = await acme.report()
        } else {
            report = CertificateProgress.notOrdered(certificates, snapshot: snapshot,
                why: "archway orders certificates only with serve --state-dir, where it keeps the ACME account and the certificates")
        }
        return CertificateProgress.written(report, for: certificates, on: statuses)
    }
}

/// How a certificate's progress reads on the ACMEIssuer's status and on the listeners waiting for it,
/// for a running archway and for `archway status --config` alike.
enum CertificateProgress {
    struct Report {
        var byIssuer: [String: [ACMEIssuerStatus.CertificateStatus]]
        var accounts: [String: String]
        /// Per Secret not there yet: what its listeners' ResolvedRefs message adds.
        var pending: [NamespacedName: String]
        /// Per issuer: the challenges being answered, which its status shares with the other replicas.
        var challenges: [String: [PresentedChallenge]] = [:]
    }

    /// Nothing orders them here (no state directory, a cluster, or no serving at all): each is listed
    /// as NotOrdered with its own problem, else `why`.
    static func notOrdered(_ certificates: [ManagedCertificate], snapshot: ResourceSnapshot, why: String) -> Report {
        var report = Report(byIssuer: [:], accounts: [:], pending: [:])
        for certificate in certificates {
            report.byIssuer[certificate.issuer, default: []].append(.init(secret: "\(certificate.secret)", names: certificate.names,
                                                                          state: "NotOrdered", message: certificate.problem ?? why))
            if snapshot.secrets[certificate.secret] == nil { report.pending[certificate.secret] = "not ordered: \(certificate.problem ?? why)" }
        }
        return report
    }

    static func written(_ report: Report, for certificates: [ManagedCertificate], on statuses: StatusSet) -> StatusSet {
        var result = statuses
        for name in result.acmeIssuers.keys {
            result.acmeIssuers[name]?.certificates = report.byIssuer[name] ?? []
            result.acmeIssuers[name]?.account = report.accounts[name]
            result.acmeIssuers[name]?.challenges = report.challenges[name]
        }
        for certificate in certificates {
            guard let message = report.pending[certificate.secret] else { continue }
            for ref in certificate.listeners {
                // "gateway-ns/gateway/" and the listener's name in the table.
                let parts = ref.split(separator: "/", maxSplits: 2).map(String.init)
                result.editListener(of: NamespacedName(parts[0], parts[1]), served: parts[2]) { name, listeners in
                    noting(message, onListener: name, in: listeners)
                }
            }
        }
        return result
    }

    /// Adds the certificate's progress to a listener's ResolvedRefs=False message.
    static func noting(_ message: String, onListener name: String, in listeners: [ListenerStatus]) -> [ListenerStatus] {
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
