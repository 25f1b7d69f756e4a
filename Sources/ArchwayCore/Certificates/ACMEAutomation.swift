import ACME
import AsyncHTTPClient
import Foundation
import GatewayAPI
import Logging
import Observability
import SwiftASN1
import Translator
import X509

/// Obtains and renews the certificates Gateways ask of an ACMEIssuer (`Translator.Result.certificates`):
/// the runtime tells it after every applied configuration what is wanted (`reconcile`), and it orders
/// what is missing, expiring or for other names, one order per Secret at a time. While an order is
/// validated its HTTP-01 and TLS-ALPN-01 challenges (`presentedChallenges`) go into the snapshot and
/// the runtime re-applies. An issued certificate is kept by the storage and served from the next
/// table on, without a restart.
///
/// File mode keeps accounts and certificates in the state directory and adds the certificates to the
/// snapshot (`secrets`). In a cluster only the replica holding the Lease orders (`leading`); it writes
/// the certificate into the listener's Secret through the API server, every replica serves it from
/// the watch, and the challenges reach the others through the ACMEIssuer's status before the CA is
/// told to look. A failure waits before the next attempt, twice as long each time (a rate limit's
/// Retry-After when longer), so a broken setup never hammers the CA.
public actor ACMEAutomation {
    public struct Timing: Sendable {
        /// The wait after the first failure; it doubles with each further one, up to `longestRetry`.
        public var retryAfterFailure: Duration = .seconds(60)
        public var longestRetry: Duration = .seconds(3600)
        public var polling = PollingPolicy()
        /// The least wait before asking the CA's renewalInfo again (RFC 9773 reads less than a minute as a minute).
        public var minimumRenewalInfoInterval: Duration = .seconds(60)
        public init() {}
    }

    /// Where one Secret's certificate stands.
    struct Progress {
        var state = "Pending"
        var message: String?
        var notAfter: Date?
        var renewal: Date?
        var failures = 0
        var nextAttempt: Date?
        var ordering = false
    }

    private let storage: any ACMEStorage
    /// Whether this replica may order now (in a cluster: it holds the Lease).
    private let leading: @Sendable () async -> Bool
    private let timing: Timing
    private let metrics: GatewayMetrics
    private let logger: Logger
    private var reapply: (@Sendable () async -> Void)?
    private var wanted: [ManagedCertificate] = []
    private var issuers: [String: ACMEIssuer] = [:]
    private var progress: [NamespacedName: Progress] = [:]
    private var stored: [NamespacedName: ACMEStateStore.StoredCertificate] = [:]
    /// Certificates written to shared storage that the snapshot does not show yet (the watch lags the
    /// write): counted as stored for a while, so they are not ordered twice.
    private var written: [NamespacedName: (certificate: ACMEStateStore.StoredCertificate, at: Date)] = [:]
    /// The challenges of the orders being validated, by Secret.
    private var presented: [NamespacedName: [PresentedChallenge]] = [:]
    /// Each issuer's account client, with the directory and CA bundle it was made for (an edit of either makes a new one).
    private var accounts: [String: (client: ACMEClient, http: HTTPClient, url: String, server: String, bundle: String?)] = [:]
    private var accountProblems: [String: String] = [:]
    private var wakeUp: Task<Void, Never>?

    init(storage: any ACMEStorage, leading: @escaping @Sendable () async -> Bool = { true }, timing: Timing = Timing(),
         metrics: GatewayMetrics, logger: Logger) {
        self.storage = storage
        self.leading = leading
        self.timing = timing
        self.metrics = metrics
        self.logger = logger
    }

    func onChange(_ reapply: @escaping @Sendable () async -> Void) { self.reapply = reapply }

    /// The challenges of the orders being validated, for the snapshot (`ChallengeAnswers`).
    var presentedChallenges: [PresentedChallenge] { presented.values.flatMap { $0 } }

    /// The certificates obtained, as the Secrets the listeners name: only those an annotated Gateway
    /// still asks for (`wanted`; a certificate nobody asks for any more is not served, so it cannot
    /// expire unnoticed) and none a user's own manifests define (`taken`): archway never replaces a
    /// Secret it did not write.
    func secrets(for wanted: Set<NamespacedName>, excluding taken: Set<NamespacedName>) -> [Secret] {
        // Shared storage's certificates are Secrets already, in the snapshot through the watch.
        guard !storage.isShared else { return [] }
        refreshStored(from: [:])
        return stored.filter { wanted.contains($0.key) && !taken.contains($0.key) }.sorted { $0.key < $1.key }
            .map { $0.value.secret(as: $0.key) }
    }

    /// What is wanted now; orders start (in the background) for what is missing or due. `secrets`:
    /// the snapshot's, which issuers name (EAB key, TSIG secret) and which hold shared storage's certificates.
    func reconcile(wanted: [ManagedCertificate], issuers: [ACMEIssuer], userSecrets: Set<NamespacedName>,
                   secrets: [NamespacedName: Secret]) async {
        self.wanted = wanted
        self.issuers = Dictionary(issuers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.secrets = secrets
        refreshStored(from: secrets)
        let mayOrder = await leading()
        self.mayOrder = mayOrder
        // A replica that does not lead asks the CA nothing; what it was told goes stale meanwhile.
        if !mayOrder { suggestions = [:] }
        let now = Date()
        for certificate in wanted {
            var entry = progress[certificate.secret] ?? Progress()
            defer { progress[certificate.secret] = entry }
            if let problem = certificate.problem ?? issuerProblem(certificate.issuer) {
                entry.state = "NotOrdered"
                entry.message = problem
                continue
            }
            if userSecrets.contains(certificate.secret) {
                entry.state = "NotOrdered"
                entry.message = "Secret \(certificate.secret) is defined in the manifests: archway serves it and does not replace it"
                continue
            }
            if let current = stored[certificate.secret], let validity = Self.validity(of: current) {
                entry.notAfter = validity.notAfter
                var renewal = renewalTime(validity, issuer: issuers.first { $0.metadata.name == certificate.issuer })
                // The CA's window (ARI) can only bring renewal forward: a CA that revokes early says so there.
                let suggested = suggestions[certificate.secret].flatMap { $0.chainPEM == current.chainPEM ? $0.moment : nil }
                if let suggested, suggested < renewal { renewal = suggested }
                entry.renewal = renewal
                // Other names, or another issuer (staging to production), is a new certificate now.
                if Set(current.names) == Set(certificate.names), current.issuer == certificate.issuer, now < renewal {
                    entry.state = "Issued"
                    entry.message = "valid until \(Self.timestamp(validity.notAfter)); renewed from \(Self.timestamp(renewal))"
                        + (suggested == renewal ? " (inside the CA's renewal window)" : "")
                    if mayOrder, !asking.contains(certificate.secret),
                       suggestions[certificate.secret].map({ $0.chainPEM != current.chainPEM || $0.askAgain <= now }) ?? true {
                        asking.insert(certificate.secret)
                        Task { await self.askRenewalInfo(for: certificate, current) }
                    }
                    metrics.setCertificateExpiry(namespace: certificate.secret.namespace, name: certificate.secret.name,
                                                 notAfter: validity.notAfter.timeIntervalSince1970)
                    continue
                }
            }
            guard !entry.ordering else { continue }
            guard mayOrder else {
                entry.state = "Pending"
                entry.message = "ordered by the replica that holds the leader Lease"
                continue
            }
            if let next = entry.nextAttempt, next > now { continue }
            entry.ordering = true
            entry.state = "Pending"
            entry.message = "ordering \(certificate.names.joined(separator: ", ")) from ACMEIssuer \(certificate.issuer)"
            let renewal = stored[certificate.secret] != nil
            Task { await self.order(certificate, renewal: renewal) }
        }
        scheduleWakeUp()
    }

    /// Each issuer's certificates as its status lists them, and the message a listener whose Secret
    /// is not there yet adds to its ResolvedRefs condition.
    func report() -> CertificateProgress.Report {
        var byIssuer: [String: [ACMEIssuerStatus.CertificateStatus]] = [:]
        var pending: [NamespacedName: String] = [:]
        for certificate in wanted {
            let entry = progress[certificate.secret] ?? Progress()
            var status = ACMEIssuerStatus.CertificateStatus(secret: "\(certificate.secret)", names: certificate.names, state: entry.state, message: entry.message)
            status.notAfter = entry.notAfter.map(Self.timestamp)
            status.renewalTime = entry.renewal.map(Self.timestamp)
            status.nextAttempt = entry.state == "Failed" ? entry.nextAttempt.map(Self.timestamp) : nil
            byIssuer[certificate.issuer, default: []].append(status)
            if stored[certificate.secret] == nil {
                pending[certificate.secret] = "archway obtains it from ACMEIssuer \(certificate.issuer): \(entry.state)"
                    + (entry.message.map { " (\($0))" } ?? "") + (status.nextAttempt.map { "; next attempt at \($0)" } ?? "")
            }
        }
        var accountStates = accounts.mapValues(\.url)
        for (issuer, problem) in accountProblems where accountStates[issuer] == nil { accountStates[issuer] = "not opened: \(problem)" }
        var challenges: [String: [PresentedChallenge]] = [:]
        for certificate in wanted {
            challenges[certificate.issuer, default: []] += presented[certificate.secret] ?? []
        }
        return CertificateProgress.Report(byIssuer: byIssuer, accounts: accountStates, pending: pending,
                                          challenges: challenges.filter { !$0.value.isEmpty })
    }

    // MARK: Ordering

    private func order(_ certificate: ManagedCertificate, renewal: Bool) async {
        let secret = certificate.secret
        do {
            guard let issuer = issuers[certificate.issuer] else { throw Failure("ACMEIssuer \(certificate.issuer) is gone") }
            // A Secret archway may not replace is found before anything is ordered, not after.
            if let refusal = try await storage.refusal(toWrite: secret) { throw NotOrderable(description: refusal) }
            let client = try await account(for: issuer)
            let order = try await client.newOrder(for: certificate.names)
            for authorization in try await client.authorizations(of: order) where authorization.status != .valid {
                try await prove(authorization, with: client, issuer: issuer, certificate: certificate)
            }
            let ready = try await client.waitForOrder(at: order.url, until: [.ready, .valid])
            try await stillLeading()
            let issued = try await client.finalize(ready)
            try await stillLeading()
            let obtained = ACMEStateStore.StoredCertificate(issuer: issuer.metadata.name, names: certificate.names,
                                                            chainPEM: issued.chainPEM, keyPEM: issued.privateKeyPEM, obtainedAt: Date())
            if storage.isShared {
                // The other replicas serve it only once it is written: a write that fails fails the order.
                do {
                    try await storage.save(obtained, for: secret)
                } catch {
                    throw Failure("the certificate was issued but cannot be written: \(error)")
                }
                written[secret] = (obtained, Date())
                stored[secret] = obtained
            } else {
                // Served even when it cannot be kept: a full disk must not make every retry order it again.
                stored[secret] = obtained
                do {
                    try await storage.save(obtained, for: secret)
                } catch {
                    logger.error("cannot keep the certificate in the state directory; a restart orders it again", metadata: ["error": "\(error)"])
                }
            }
            var entry = progress[secret] ?? Progress()
            entry.failures = 0
            entry.nextAttempt = nil
            entry.ordering = false
            progress[secret] = entry
            metrics.countACMEOrder(issuer: issuer.metadata.name, result: "issued", renewal: renewal)
            logger.info("certificate obtained", metadata: ["secret": "\(secret)", "names": "\(certificate.names.joined(separator: ","))",
                                                           "issuer": "\(issuer.metadata.name)", "renewal": "\(renewal)"])
        } catch let refusal as NotOrderable {
            var entry = progress[secret] ?? Progress()
            entry.state = "NotOrdered"
            entry.message = refusal.description
            // Looked at again an hour on (or at the next change): nothing is ordered meanwhile.
            entry.nextAttempt = Date().addingTimeInterval(Double(timing.longestRetry.components.seconds))
            entry.ordering = false
            progress[secret] = entry
            logger.error("certificate not ordered", metadata: ["secret": "\(secret)", "issuer": "\(certificate.issuer)", "reason": "\(refusal)"])
        } catch {
            var entry = progress[secret] ?? Progress()
            entry.failures += 1
            var wait = timing.retryAfterFailure * (1 << min(entry.failures - 1, 20))
            if wait > timing.longestRetry { wait = timing.longestRetry }
            if let problem = error as? ACMEProblem, let retryAfter = problem.retryAfter, retryAfter > wait { wait = retryAfter }
            entry.nextAttempt = Date().addingTimeInterval(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
            entry.state = "Failed"
            entry.message = "\(error)"
            entry.ordering = false
            progress[secret] = entry
            metrics.countACMEOrder(issuer: certificate.issuer, result: "failed", renewal: renewal)
            logger.error("ACME order failed; retrying later", metadata: [
                "secret": "\(secret)", "issuer": "\(certificate.issuer)", "error": "\(error)",
                "failures": "\(entry.failures)", "next_attempt": "\(Self.timestamp(entry.nextAttempt!))",
            ])
        }
        // The answers are no longer needed, and a new certificate goes into the next table.
        presented[secret] = nil
        await reapply?()
    }

    /// Answers one authorization by the issuer's challenge and waits until the CA has looked.
    private func prove(_ authorization: ACMEAuthorization, with client: ACMEClient, issuer: ACMEIssuer, certificate: ManagedCertificate) async throws {
        let name = authorization.identifier.value
        switch issuer.challenge {
        case .http01:
            guard let challenge = authorization.challenge(.http01), let token = challenge.token else {
                throw Failure("the CA offers no HTTP-01 challenge for \(name)")
            }
            let shared = PresentedChallenge(type: ACMEIssuer.Challenge.http01.rawValue, name: name, token: token,
                                            keyAuthorization: client.keyAuthorization(for: challenge), gateways: Self.gateways(of: certificate))
            presented[certificate.secret, default: []].append(shared)
            // Served from the next table (every replica's, in a cluster): only then may the CA look.
            await reapply?()
            try await storage.waitUntilAnswered(shared, issuer: issuer.metadata.name)
            try await stillLeading()
            _ = try await client.respond(to: challenge)
        case .dns01:
            guard let challenge = authorization.challenge(.dns01), let rfc2136 = issuer.spec.dns01?.rfc2136 else {
                throw Failure("the CA offers no DNS-01 challenge for \(name)")
            }
            let keyAuthorization = client.keyAuthorization(for: challenge)
            let updater = RFC2136Updater(server: rfc2136.nameserver, zone: rfc2136.zone, tsig: try tsigKey(rfc2136))
            let record = ChallengeResponse.dns01RecordName(for: authorization.wildcard ? "*.\(name)" : name)
            let value = ChallengeResponse.dns01TXTValue(keyAuthorization: keyAuthorization)
            try await updater.setTXT(name: record, value: value)
            do {
                _ = try await client.respond(to: challenge)
                let result = try await client.waitForAuthorization(at: authorization.url)
                try? await updater.removeTXT(name: record, value: value)
                guard result.status == .valid else { throw Failure("authorization for \(name) ended \(result.status)") }
                return
            } catch {
                try? await updater.removeTXT(name: record, value: value)
                throw error
            }
        case .tlsALPN01:
            guard let challenge = authorization.challenge(.tlsALPN01) else {
                throw Failure("the CA offers no TLS-ALPN-01 challenge for \(name)")
            }
            let shared = PresentedChallenge(type: ACMEIssuer.Challenge.tlsALPN01.rawValue, name: name, token: nil,
                                            keyAuthorization: client.keyAuthorization(for: challenge), gateways: Self.gateways(of: certificate))
            // A name can show one challenge certificate at a time: two orders for it (two Secrets
            // naming the same host) take turns. Each holds one only while its own authorization runs.
            while presented.values.contains(where: { $0.contains { $0.type == shared.type && $0.name == name } }) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let pending = [shared]
            presented[certificate.secret, default: []] += pending
            // Offered from the next table (every replica's, in a cluster): only then may the CA look.
            await reapply?()
            logger.info("answering TLS-ALPN-01 on the HTTPS listeners", metadata: ["name": "\(name)", "secret": "\(certificate.secret)"])
            do {
                try await storage.waitUntilAnswered(shared, issuer: issuer.metadata.name)
                try await stillLeading()
                _ = try await client.respond(to: challenge)
                let result = try await client.waitForAuthorization(at: authorization.url)
                withdraw(pending, of: certificate.secret)
                guard result.status == .valid else { throw Failure("authorization for \(name) ended \(result.status)") }
                return
            } catch {
                // Withdrawn here; the order's end re-applies, so the next table no longer offers it.
                withdraw(pending, of: certificate.secret)
                throw error
            }
        }
        let result = try await client.waitForAuthorization(at: authorization.url)
        guard result.status == .valid else { throw Failure("authorization for \(name) ended \(result.status)") }
    }

    /// The Gateways whose listeners serve the certificate, as "namespace/gateway" (from its
    /// "namespace/gateway/listener" refs).
    private static func gateways(of certificate: ManagedCertificate) -> [String] {
        Set(certificate.listeners.map { $0.split(separator: "/", maxSplits: 2).prefix(2).joined(separator: "/") }).sorted()
    }

    /// An authorization is over: its challenge certificates are offered no more (from the next table).
    private func withdraw(_ pending: [PresentedChallenge], of secret: NamespacedName) {
        presented[secret]?.removeAll { pending.contains($0) }
        if presented[secret]?.isEmpty == true { presented[secret] = nil }
    }

    /// The issuer's account client: the key from the state directory (made and saved the first time),
    /// registered (or found again) at the CA once per process.
    private func account(for issuer: ACMEIssuer) async throws -> ACMEClient {
        let name = issuer.metadata.name
        if let known = accounts[name], known.server == issuer.spec.server, known.bundle == issuer.spec.caBundle { return known.client }
        // Orders for several Secrets start together: one account, opened once, not one each (a CA
        // limits new accounts, and an EAB key may be single-use).
        if let opening = accountOpenings[name] { return try await opening.value }
        let opening = Task { try await self.openAccount(for: issuer) }
        accountOpenings[name] = opening
        defer { accountOpenings[name] = nil }
        return try await opening.value
    }

    private var accountOpenings: [String: Task<ACMEClient, any Error>] = [:]

    private func openAccount(for issuer: ACMEIssuer) async throws -> ACMEClient {
        let name = issuer.metadata.name
        if let known = accounts[name], known.server == issuer.spec.server, known.bundle == issuer.spec.caBundle { return known.client }
        if let stale = accounts.removeValue(forKey: name) { try? await stale.http.shutdown() }
        let saved = try await storage.account(of: name)
        let key = try saved.flatMap { $0.server == issuer.spec.server ? try ACMEAccountKey(pemRepresentation: $0.keyPEM) : nil } ?? ACMEAccountKey()
        if saved?.server != issuer.spec.server { try await storage.save(.init(server: issuer.spec.server, keyPEM: key.pemRepresentation), of: name) }
        let http = try ACMEClient.makeHTTPClient(trustRootsPEM: issuer.spec.caBundle)
        let client = ACMEClient(directoryURL: issuer.spec.server, accountKey: key, httpClient: http, polling: timing.polling)
        do {
            let binding = try issuer.spec.externalAccountBinding.map { binding -> ExternalAccountBinding in
                guard let key = secretValue(binding.keySecretRef) else {
                    throw Failure("the external account binding key Secret \(binding.keySecretRef.namespace ?? "default")/\(binding.keySecretRef.name) (key \(binding.keySecretRef.key)) is not available")
                }
                return try ExternalAccountBinding(keyID: binding.keyID, base64URLMACKey: key)
            }
            let account = try await client.createAccount(contactEmails: issuer.spec.email.map { [$0] } ?? [], termsOfServiceAgreed: true,
                                                         externalAccountBinding: binding)
            if saved?.url != account.url {
                try await storage.save(.init(server: issuer.spec.server, keyPEM: key.pemRepresentation, url: account.url), of: name)
            }
            accounts[name] = (client, http, account.url, issuer.spec.server, issuer.spec.caBundle)
            accountProblems[name] = nil
            logger.info(account.created ? "ACME account opened" : "ACME account reused", metadata: ["issuer": "\(name)", "account": "\(account.url)"])
            return client
        } catch {
            try? await http.shutdown()
            accountProblems[name] = "\(error)"
            throw error
        }
    }

    /// Secrets named by an issuer (EAB key, TSIG secret) come from the snapshot the runtime last
    /// applied; read (decoded) only when an account is opened or a record written.
    private var secrets: [NamespacedName: Secret] = [:]

    private func secretValue(_ ref: ACMEIssuer.SecretKeyRef) -> String? {
        secrets[NamespacedName(ref.namespace ?? "default", ref.name)]?.value(forKey: ref.key)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func tsigKey(_ rfc2136: ACMEIssuer.RFC2136) throws -> TSIGKey? {
        guard let name = rfc2136.tsigKeyName, let ref = rfc2136.tsigSecretRef else { return nil }
        guard let secret = secretValue(ref) else { throw Failure("the TSIG secret \(ref.namespace ?? "default")/\(ref.name) (key \(ref.key)) is not available") }
        let algorithm: TSIGKey.Algorithm = rfc2136.tsigAlgorithm?.lowercased() == "hmac-sha512" ? .hmacSHA512 : .hmacSHA256
        return try TSIGKey(name: name, algorithm: algorithm, base64Secret: secret)
    }

    // MARK: Time

    private func issuerProblem(_ name: String) -> String? {
        guard let issuer = issuers[name] else { return nil }
        let problems = Resource.acmeIssuer(issuer).validationProblems()
        return problems.isEmpty ? nil : "ACMEIssuer \(name) is not usable: " + problems.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
    }

    /// At `renewBefore` ahead of expiry, else at two thirds of the lifetime (what Let's Encrypt advises).
    /// A `renewBefore` as long as the lifetime or longer would renew at once, forever: then two thirds
    /// of the lifetime, as cert-manager does.
    private func renewalTime(_ validity: (notBefore: Date, notAfter: Date), issuer: ACMEIssuer?) -> Date {
        let lifetime = validity.notAfter.timeIntervalSince(validity.notBefore)
        if let text = issuer?.spec.renewBefore, let seconds = ACMEIssuer.seconds(text) {
            if Double(seconds) < lifetime { return validity.notAfter.addingTimeInterval(-Double(seconds)) }
            if warnedRenewBefore.insert(issuer?.metadata.name ?? "").inserted {
                logger.warning("renewBefore is as long as the certificates' lifetime: renewing at two thirds of it instead",
                               metadata: ["issuer": "\(issuer?.metadata.name ?? "")", "renewBefore": "\(text)", "lifetime_s": "\(Int(lifetime))"])
            }
        }
        return validity.notBefore.addingTimeInterval(lifetime * 2 / 3)
    }

    private var warnedRenewBefore: Set<String> = []

    /// ACME Renewal Information (RFC 9773), per Secret: a moment the CA's suggested window for the
    /// certificate held (`chainPEM`) was turned into, and when to ask again.
    private struct RenewalSuggestion {
        var chainPEM: String
        var window: ClosedRange<Date>?
        var moment: Date?
        var askAgain: Date
    }
    private var suggestions: [NamespacedName: RenewalSuggestion] = [:]
    private var asking: Set<NamespacedName> = []
    /// Whether the last reconcile found this replica allowed to order (it leads, or file mode).
    private var mayOrder = true

    /// Asks the CA when to renew, where its directory offers renewalInfo: a random moment inside the
    /// window (so a CA's mass revocation does not bring every client back at once), asked again
    /// after its Retry-After (6 hours without one); a directory without it is asked again a day later.
    private func askRenewalInfo(for certificate: ManagedCertificate, _ current: ACMEStateStore.StoredCertificate) async {
        defer { asking.remove(certificate.secret) }
        let now = Date()
        var suggestion = RenewalSuggestion(chainPEM: current.chainPEM, window: nil, moment: nil, askAgain: now.addingTimeInterval(6 * 3600))
        do {
            guard let issuer = issuers[certificate.issuer] else { return }
            guard let leaf = Self.leaf(of: current) else { return }
            let window = try await account(for: issuer).renewalInfo(for: leaf)
            suggestion.window = window.start...max(window.start, window.end)
            // The same window keeps its moment: drawing again on every answer would drift early.
            if let previous = suggestions[certificate.secret], previous.chainPEM == current.chainPEM, previous.window == suggestion.window {
                suggestion.moment = previous.moment
            } else {
                suggestion.moment = window.start.addingTimeInterval(Double.random(in: 0...max(0, window.end.timeIntervalSince(window.start))))
            }
            if let retry = window.retryAfter {
                // RFC 9773 §4.3: a Retry-After under a minute is read as a minute.
                suggestion.askAgain = now.addingTimeInterval(min(86400, max(Double(timing.minimumRenewalInfoInterval.components.seconds), Double(retry.components.seconds))))
            }
            logger.info("renewal window from the CA", metadata: [
                "secret": "\(certificate.secret)", "start": "\(Self.timestamp(window.start))", "end": "\(Self.timestamp(window.end))",
                "renew_at": "\(Self.timestamp(suggestion.moment!))", "explanation": "\(window.explanationURL ?? "")",
            ])
        } catch ACMEClientError.renewalInfoNotOffered {
            suggestion.askAgain = now.addingTimeInterval(86400)
        } catch {
            logger.warning("cannot read the CA's renewal window; renewing by the certificate's lifetime", metadata: [
                "secret": "\(certificate.secret)", "error": "\(error)",
            ])
            suggestion.askAgain = now.addingTimeInterval(3600)
        }
        let changed = suggestions[certificate.secret]?.moment != suggestion.moment
        suggestions[certificate.secret] = suggestion
        // A new moment reschedules (or starts) the renewal; either way the next question is scheduled.
        if changed { await reapply?() } else { scheduleWakeUp() }
    }

    /// Wakes up for the next renewal or retry that is due, so nothing waits for a configuration change.
    private func scheduleWakeUp() {
        let moments = wanted.compactMap { certificate -> Date? in
            guard let entry = progress[certificate.secret], !entry.ordering else { return nil }
            if entry.state == "Failed" { return entry.nextAttempt }
            guard entry.state == "Issued", let renewal = entry.renewal else { return nil }
            guard mayOrder, !asking.contains(certificate.secret), let askAgain = suggestions[certificate.secret]?.askAgain else { return renewal }
            return min(renewal, askAgain)
        }
        wakeUp?.cancel()
        guard let next = moments.min() else { return }
        let delay = max(0.05, next.timeIntervalSinceNow + 0.05)
        wakeUp = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            guard !Task.isCancelled, let self else { return }
            await self.wake()
        }
    }

    private func wake() async {
        guard let reapply else { return }
        await reapply()
    }

    private var loaded = false

    /// The state directory's certificates are read once, and after that `stored` is kept up to date
    /// here; shared storage's are read from every snapshot (another replica may have written one, a
    /// user deleted one), plus those written here that the watch has not brought back yet.
    private func refreshStored(from secrets: [NamespacedName: Secret]) {
        guard storage.isShared || !loaded else { return }
        loaded = true
        let (found, unreadable) = storage.certificates(among: secrets)
        var current = found
        for (secret, entry) in written {
            if found[secret]?.chainPEM == entry.certificate.chainPEM || Date().timeIntervalSince(entry.at) > 30 {
                written[secret] = nil
            } else {
                current[secret] = entry.certificate
            }
        }
        stored = current
        for problem in unreadable {
            logger.error("cannot read a stored certificate; it is ordered again", metadata: ["error": "\(problem)"])
        }
    }

    static func validity(of certificate: ACMEStateStore.StoredCertificate) -> (notBefore: Date, notAfter: Date)? {
        leaf(of: certificate).map { ($0.notValidBefore, $0.notValidAfter) }
    }

    /// The chain's first certificate is the leaf; the others are the CA's.
    static func leaf(of certificate: ACMEStateStore.StoredCertificate) -> Certificate? {
        guard let first = try? PEMDocument.parseMultiple(pemString: certificate.chainPEM).first else { return nil }
        return try? Certificate(pemDocument: first)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// An order that lost the leader Lease stops where it is: the new leader orders instead, and two
    /// replicas never write the same Secret.
    private func stillLeading() async throws {
        guard await leading() else { throw Failure("this replica no longer holds the leader Lease; the new leader orders") }
    }

    /// Nothing to order until the configuration changes (a Secret archway may not replace).
    struct NotOrderable: Error, CustomStringConvertible {
        var description: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Before the drain: nothing re-applies a configuration from here on.
    func shutdown() async {
        reapply = nil
        wakeUp?.cancel()
        for account in accounts.values { try? await account.http.shutdown() }
        accounts = [:]
    }
}
