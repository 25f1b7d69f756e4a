import NIOConcurrencyHelpers
import NIOSSL
import RoutingTable

/// Server-side TLS settings every terminating listener shares: TLS 1.2 and 1.3 only, AEAD ciphers
/// with forward secrecy (the Mozilla "intermediate" list), ALPN offering h2 then http/1.1.
enum ServerTLSPolicy {
    static let cipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
    static let alpn = ["h2", "http/1.1"]

    /// `offerHTTP2: false` for TLSRoute listeners, whose bytes go to the backend as they are: the client
    /// must not be told it may speak h2 to a backend that never agreed to it.
    /// `acmeChallenge`: a TLS-ALPN-01 certificate, whose handshake negotiates `acme-tls/1` and nothing else.
    static func configuration(for pair: CertificatePair, offerHTTP2: Bool = true,
                              clientValidation: ClientCertificateValidation? = nil, acmeChallenge: Bool = false) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(pair.chainPEM.utf8))
        guard !chain.isEmpty else { throw TLSSetupError("tls.crt holds no certificate") }
        let key = try NIOSSLPrivateKey(bytes: Array(pair.keyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuiteValues = cipherSuites
        configuration.applicationProtocols = acmeChallenge ? [ACMEChallengeCertificate.applicationProtocol] : offerHTTP2 ? alpn : []
        if let clientValidation {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientValidation.caPEM.utf8)))
            // The CA names tell clients holding several certificates which one to present.
            configuration.sendCANameList = true
            switch clientValidation.mode {
            case .allowValidOnly:
                // A certificate is required and must chain to the CAs; a client is not a host name.
                configuration.certificateVerification = .noHostnameVerification
            case .allowInsecureFallback:
                // Asked for, but optional; one that fails verification is let in by the handler's
                // callback (`TerminatingTLS`), as the mode allows.
                configuration.certificateVerification = .optionalVerification
            }
        }
        return configuration
    }
}

struct TLSSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Builds server contexts from certificate pairs, once per distinct pair: a reload that leaves a
/// Secret alone reuses its context, a rotated Secret gets a new one. Contexts no table uses any more
/// are dropped at the next build.
public final class TLSContextCache: Sendable {
    private let contexts = NIOLockedValueBox<[PairKey: NIOSSLContext]>([:])
    private let clients = NIOLockedValueBox<[ClientKey: NIOSSLContext]>([:])

    public init() {}

    func context(for pair: CertificatePair, offerHTTP2: Bool = true, clientValidation: ClientCertificateValidation? = nil,
                 acmeChallenge: Bool = false) throws -> NIOSSLContext {
        let key = PairKey(pair, offerHTTP2: offerHTTP2, clientValidation: clientValidation, acmeChallenge: acmeChallenge)
        if let cached = contexts.withLockedValue({ $0[key] }) { return cached }
        // BoringSSL refuses a private key that does not belong to the leaf certificate here.
        let context = try NIOSSLContext(configuration: ServerTLSPolicy.configuration(
            for: pair, offerHTTP2: offerHTTP2, clientValidation: clientValidation, acmeChallenge: acmeChallenge))
        contexts.withLockedValue { $0[key] = context }
        return context
    }

    /// A client context trusting the policy's CA bundle (or the system roots), TLS 1.2+, verifying the
    /// certificate's name against the policy hostname. Cached by policy.
    /// `http2`: offer only h2 in ALPN (an HTTP/2 backend); otherwise only http/1.1.
    func clientContext(for policy: UpstreamTLS, http2: Bool) throws -> NIOSSLContext {
        let key = ClientKey(policy: policy, http2: http2)
        if let cached = clients.withLockedValue({ $0[key] }) { return cached }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        // With subjectAltNames the policy hostname is only the SNI: the names are checked by
        // `BackendIdentity` once the chain has been verified.
        configuration.certificateVerification = policy.subjectAltNames.isEmpty ? .fullVerification : .noHostnameVerification
        if let pem = policy.caPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        }
        configuration.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        if let pair = policy.clientCertificate {
            // Presented only when the backend asks for one (its CertificateRequest).
            configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(pair.chainPEM.utf8)).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(pair.keyPEM.utf8), format: .pem))
        }
        let context = try NIOSSLContext(configuration: configuration)
        clients.withLockedValue { $0[key] = context }
        return context
    }

    private struct ClientKey: Hashable {
        var policy: UpstreamTLS
        var http2: Bool
    }

    /// What is wrong with a chain and key, or nil when a server context can be made from them.
    /// What is wrong with a CA bundle, or nil when trust roots can be made from it.
    public func problem(caPEM: String) -> String? {
        do {
            return try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)).isEmpty ? "no certificate in it" : nil
        } catch {
            return "cannot load the certificates: \(error)"
        }
    }

    public func problem(chainPEM: String, keyPEM: String) -> String? {
        do {
            _ = try context(for: CertificatePair(source: "", chainPEM: chainPEM, keyPEM: keyPEM))
            return nil
        } catch {
            return "cannot load the certificate and key: \(error)"
        }
    }

    func keepOnly(_ pairs: Set<CertificatePair>) {
        let inUse = Set(pairs.map { [$0.chainPEM, $0.keyPEM] })
        contexts.withLockedValue { cache in cache = cache.filter { inUse.contains([$0.key.chain, $0.key.key]) } }
    }

    /// Two pairs with the same PEM are the same certificate whichever Secret names them.
    private struct PairKey: Hashable {
        var chain: String
        var key: String
        var offerHTTP2: Bool
        var clientValidation: ClientCertificateValidation?
        var acmeChallenge: Bool
        init(_ pair: CertificatePair, offerHTTP2: Bool, clientValidation: ClientCertificateValidation? = nil, acmeChallenge: Bool = false) {
            chain = pair.chainPEM
            key = pair.keyPEM
            self.offerHTTP2 = offerHTTP2
            self.clientValidation = clientValidation
            self.acmeChallenge = acmeChallenge
        }
    }
}

/// A terminating listener's server context, and whether it lets in clients whose certificate fails
/// verification (frontend validation in AllowInsecureFallback mode).
struct TerminatingTLS {
    let context: NIOSSLContext
    let acceptsUnverifiedClients: Bool

    func serverHandler() -> NIOSSLServerHandler {
        guard acceptsUnverifiedClients else { return NIOSSLServerHandler(context: context) }
        return NIOSSLServerHandler(context: context) { _, promise in promise.succeed(.certificateVerified) }
    }
}

/// What a TLS port does with a connection once it has read the ClientHello's server name.
enum TLSDisposition {
    case terminate(TerminatingTLS)
    case passthrough
    case refuse
    /// A TLS-ALPN-01 validation of archway's own ACME order: the challenge certificate, then closed
    /// after the handshake.
    case answerACMEChallenge(NIOSSLContext)
}

/// Per TLS port: listener hostnames (exact, wildcard, catch-all) to what happens with the connection.
/// A ClientHello without SNI, or with a name no listener covers, gets the least specific listener's
/// certificate, as Envoy's and nginx's default server do, so that the client sees a certificate error
/// rather than a reset.
struct TLSPortTable: Sendable {
    private let bySNI: HostIndex<Entry>
    private let fallback: Entry?
    /// TLS-ALPN-01 certificates by name; empty but while an ACME order of ours is validated here.
    private let acmeChallenges: [String: NIOSSLContext]

    struct Entry: Sendable {
        let context: NIOSSLContext?
        var acceptsUnverifiedClients = false
    }

    init(_ port: PortTable, cache: TLSContextCache) throws {
        var entries: [(hostname: String?, value: Entry)] = []
        for listener in port.listeners {
            guard let tls = listener.tls else { continue }
            switch tls.mode {
            case .passthrough:
                entries.append((listener.hostname, Entry(context: nil)))
            case .terminate:
                guard let pair = tls.certificates.first else { continue }
                let context = try cache.context(for: pair, offerHTTP2: listener.streamRoutes == nil, clientValidation: tls.clientValidation)
                entries.append((listener.hostname, Entry(context: context, acceptsUnverifiedClients: tls.clientValidation?.mode == .allowInsecureFallback)))
            }
        }
        bySNI = HostIndex(entries)
        fallback = entries.last(where: { $0.value.context != nil })?.value
        var challenges: [String: NIOSSLContext] = [:]
        for challenge in port.acmeChallenges ?? [] {
            // One that cannot be loaded fails its own validation, not the whole table.
            challenges[challenge.name] = try? cache.context(for: challenge.certificate, acmeChallenge: true)
        }
        acmeChallenges = challenges
    }

    /// Whether connections need their ClientHello's ALPN read (`ACMEChallengePeek`) at all.
    var answersACMEChallenges: Bool { !acmeChallenges.isEmpty }

    /// `offersACMEProtocol`: the ClientHello offers ALPN `acme-tls/1`. Only such a hello, for a name
    /// with a challenge pending, gets the challenge certificate; every other one is served as ever.
    func disposition(serverName: String?, offersACMEProtocol: Bool = false) -> TLSDisposition {
        if offersACMEProtocol, let serverName, let challenge = acmeChallenges[serverName.lowercased()] {
            return .answerACMEChallenge(challenge)
        }
        let entry = serverName.flatMap { bySNI.lookup($0.lowercased()) } ?? fallback
        guard let entry else { return .refuse }
        guard let context = entry.context else { return .passthrough }
        return .terminate(TerminatingTLS(context: context, acceptsUnverifiedClients: entry.acceptsUnverifiedClients))
    }
}
