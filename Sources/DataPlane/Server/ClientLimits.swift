import NIOCore
import Synchronization

/// What one client may cost the gateway. Requests over a size limit are refused before any backend
/// is touched; connections that dawdle are closed; connections over the budget are closed at accept.
public struct ClientLimits: Sendable {
    /// Request line + header fields, in bytes (431). NIO's parser refuses heads over ~80 KiB itself.
    public var maxHeaderBytes = 64 * 1024
    /// Header fields per request (431), Envoy's default.
    public var maxHeaderCount = 100
    /// The request target (414).
    public var maxURIBytes = 16 * 1024
    /// Request body (413); nil means unlimited.
    public var maxRequestBodyBytes: Int?
    /// From a request's first byte until its head is complete (408, then close): the slowloris guard.
    public var headerTimeout: TimeAmount = .seconds(10)
    /// A keep-alive connection waiting for its next request; a new connection waiting for its first
    /// byte gets `headerTimeout`.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Open client connections across all listeners; 0 means no limit.
    public var maxConnections = 0

    public init() {}
}

/// Counts open client connections against `ClientLimits.maxConnections`, across event loops.
final class ConnectionBudget: Sendable {
    private let open = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Counts `channel` until it closes; false when it would exceed the limit (it must then be closed).
    /// Without a limit nothing is counted, so accepting costs no close callback.
    func admit(_ channel: any Channel) -> Bool {
        guard limit > 0, acquire() else { return limit <= 0 }
        channel.closeFuture.whenComplete { _ in self.release() }
        return true
    }

    private func acquire() -> Bool {
        guard limit > 0 else { return true }
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    private func release() {
        guard limit > 0 else { return }
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
