/// A socket that could not be bound, named: the system's own error ("bind(descriptor:ptr:bytes:):
/// Address already in use") says neither which address nor what archway wanted it for.
public struct BindFailure: Error, CustomStringConvertible {
    public var purpose: String
    public var host: String
    public var port: Int
    public var underlying: any Error

    public init(purpose: String, host: String, port: Int, underlying: any Error) {
        self.purpose = purpose
        self.host = host
        self.port = port
        self.underlying = underlying
    }

    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var text = "cannot bind \(purpose) to \(address): \(underlying)"
        if "\(underlying)".contains("Address already in use") {
            text += " (another process holds it; `ss -ltnp 'sport = :\(port)'` shows which)"
        }
        return text
    }

    /// Runs `bind`, turning its failure into one that names the address and its purpose.
    public static func naming<T>(_ purpose: String, host: String, port: Int, _ bind: () async throws -> T) async throws -> T {
        do {
            return try await bind()
        } catch {
            throw BindFailure(purpose: purpose, host: host, port: port, underlying: error)
        }
    }
}
