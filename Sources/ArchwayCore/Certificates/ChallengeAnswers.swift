import ACME
import GatewayAPI

/// The challenges being validated, as the snapshot carries them to the translator: an HTTP-01 answer
/// per Gateway, and a TLS-ALPN-01 certificate per Gateway made here from the key authorization. Every
/// replica makes its own certificate (the CA checks only the digest of the key authorization inside
/// it), so no private key travels between replicas; each is made once per challenge and reused by
/// the applies that follow while the challenge lasts.
struct ChallengeAnswers {
    private var certificates: [PresentedChallenge: (certificatePEM: String, keyPEM: String)] = [:]

    mutating func answering(_ challenges: [PresentedChallenge]) -> (http01: [ACMEChallengeAnswer], tlsALPN01: [ACMETLSChallenge]) {
        var http01: [ACMEChallengeAnswer] = []
        var tlsALPN01: [ACMETLSChallenge] = []
        var made: [PresentedChallenge: (certificatePEM: String, keyPEM: String)] = [:]
        for challenge in Set(challenges).sorted(by: { ($0.name, $0.keyAuthorization) < ($1.name, $1.keyAuthorization) }) {
            let gateways = challenge.gateways.compactMap { ref -> NamespacedName? in
                let parts = ref.split(separator: "/", maxSplits: 1).map(String.init)
                return parts.count == 2 ? NamespacedName(parts[0], parts[1]) : nil
            }
            switch ACMEIssuer.Challenge(rawValue: challenge.type) {
            case .http01:
                guard let token = challenge.token else { continue }
                http01 += gateways.map { ACMEChallengeAnswer(gateway: $0, name: challenge.name, token: token, keyAuthorization: challenge.keyAuthorization) }
            case .tlsALPN01:
                guard let proof = certificates[challenge] ?? (try? TLSALPN01Certificate(name: challenge.name, keyAuthorization: challenge.keyAuthorization))
                    .map({ ($0.certificatePEM, $0.privateKeyPEM) }) else { continue }
                made[challenge] = proof
                tlsALPN01 += gateways.map { ACMETLSChallenge(gateway: $0, name: challenge.name, certificatePEM: proof.certificatePEM, keyPEM: proof.keyPEM) }
            case .dns01, nil:
                continue
            }
        }
        // Only the challenges still presented keep their certificates.
        certificates = made
        return (http01, tlsALPN01)
    }
}
