/// Why a DNS-01 record could not be published through RFC 2136; each case names the server and the
/// record name, so a status condition built from the description says where to look.
public enum RFC2136Error: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error: `rcode` is its mnemonic ("REFUSED", "NOTZONE", "SERVFAIL"...),
    /// and for a TSIG failure the TSIG error after it ("NOTAUTH/BADSIG", "NOTAUTH/BADKEY", "NOTAUTH/BADTIME").
    case rejected(server: String, name: String, zone: String, rcode: String)
    /// Neither the UDP attempts nor TCP brought an answer.
    case noAnswer(server: String, name: String, reason: String)
    /// An answer that is not one to our request (ID, QR, opcode), unparseable, or whose TSIG does not verify.
    case badAnswer(server: String, name: String, reason: String)
    /// No SOA found for the name or any parent: the server is authoritative for none of them.
    case zoneNotFound(server: String, name: String, lastRCode: String?)
    case invalidName(String)
    case invalidServer(String)
    case invalidTSIGSecret(keyName: String)

    /// The RCODE (and TSIG error) of a rejection, e.g. "NOTZONE" or "NOTAUTH/BADSIG".
    public var rcode: String? {
        switch self {
        case .rejected(_, _, _, let rcode): rcode
        case .zoneNotFound(_, _, let rcode): rcode
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .rejected(let server, let name, let zone, let rcode):
            "DNS server \(server) refused the update of \(name) in zone \(zone): \(rcode)"
        case .noAnswer(let server, let name, let reason):
            "DNS server \(server) did not answer for \(name): \(reason)"
        case .badAnswer(let server, let name, let reason):
            "DNS server \(server) answered for \(name) with an answer not accepted: \(reason)"
        case .zoneNotFound(let server, let name, let rcode):
            "DNS server \(server) is authoritative for no zone holding \(name)" + (rcode.map { " (last answer \($0))" } ?? "")
        case .invalidName(let name): "not a DNS name: \(name)"
        case .invalidServer(let server): "not a DNS server address (host:port): \(server)"
        case .invalidTSIGSecret(let keyName): "the TSIG secret of key \(keyName) is not base64"
        }
    }
}
