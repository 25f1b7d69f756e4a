import NIOCore
import NIOSSL
import RoutingTable

/// Who a TLS backend must be: the policy hostname (checked by NIOSSL against the certificate), or,
/// when the BackendTLSPolicy lists subjectAltNames, one of those names in the certificate's
/// subjectAltName extension — a DNS name (a `*.` wildcard in the certificate covers one label) or a
/// URI compared exactly (SPIFFE IDs). The chain is verified against the policy's CAs either way.
enum BackendIdentity {
    struct Mismatch: Error, CustomStringConvertible {
        let policy: String
        let wanted: [SubjectAltName]
        var description: String {
            "the backend certificate carries none of the subjectAltNames of BackendTLSPolicy \(policy): "
                + wanted.map { "\($0.kind == .uri ? "URI" : "DNS"):\($0.value)" }.joined(separator: ", ")
        }
    }

    /// The client TLS handler for a connection to a backend under `tls`.
    static func tlsHandler(_ tls: UpstreamTLSSetup) throws -> NIOSSLClientHandler {
        let wanted = tls.policy.subjectAltNames
        guard !wanted.isEmpty else { return try NIOSSLClientHandler(context: tls.context, serverHostname: tls.policy.hostname) }
        let policy = tls.policy.policy
        // NIOSSL calls this with the verified leaf, before the handshake completes and before any
        // request byte is sent; a failed future fails the handshake.
        return try NIOSSLClientHandler._makeSSLClientHandler(context: tls.context, serverHostname: tls.policy.hostname) { leaf, channel in
            matches(leaf, wanted) ? channel.eventLoop.makeSucceededVoidFuture()
                : channel.eventLoop.makeFailedFuture(Mismatch(policy: policy, wanted: wanted))
        }
    }

    static func matches(_ certificate: NIOSSLCertificate, _ wanted: [SubjectAltName]) -> Bool {
        let names = certificate._subjectAlternativeNames().compactMap { name -> SubjectAltName? in
            let text = name.contents.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
            switch name.nameType {
            case .dnsName: return SubjectAltName(kind: .hostname, value: text)
            case .uri: return SubjectAltName(kind: .uri, value: text)
            default: return nil
            }
        }
        return wanted.contains { want in names.contains { have in have.kind == want.kind && covers(have, want) } }
    }

    private static func covers(_ have: SubjectAltName, _ want: SubjectAltName) -> Bool {
        guard want.kind == .hostname else { return have.value == want.value }
        let name = have.value.lowercased(), host = want.value.lowercased()
        if name == host { return true }
        // "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com".
        guard name.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
        return host[dot...] == name.dropFirst()
    }
}
