import NIOConcurrencyHelpers
import NIOCore
import RoutingTable

final class IPAllowListGuard: EdgeGuard {
    private let spec: IPAllowListRule

    init(_ spec: IPAllowListRule) {
        self.spec = spec
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        let client = request.clientAddress(trustedProxyDepth: spec.trustedProxyDepth)
        guard let address = CIDR.parseAddress(client) else {
            return refuse("client address \"\(client)\" is not an IP address")
        }
        if let denied = spec.deny.first(where: { $0.contains(address) }) {
            return refuse("client \(client) is in denied range \(denied)")
        }
        if !spec.allow.isEmpty, !spec.allow.contains(where: { $0.contains(address) }) {
            return refuse("client \(client) is not in an allowed range")
        }
        return .pass(EdgeEdits())
    }

    /// The client learns only that its address is not allowed, not the ranges that decided it.
    private func refuse(_ why: String) -> EdgeDecision {
        .refuse(EdgeRefusal(status: 403, message: "forbidden: client address not allowed", detail: "\(spec.policy): \(why)"))
    }
}

final class BodySizeGuard: EdgeGuard {
    private let spec: BodySizeRule

    init(_ spec: BodySizeRule) {
        self.spec = spec
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        if let length = request.header("content-length").flatMap({ Int($0) }), length > spec.maxBytes {
            return .refuse(EdgeRefusal(status: 413, message: "request body too large: \(length) bytes; the limit is \(spec.maxBytes)",
                                       detail: "\(spec.policy): request body is \(length) bytes; the limit is \(spec.maxBytes)"))
        }
        // A body without a declared length is cut when it crosses the limit while streaming.
        var edits = EdgeEdits()
        edits.maxRequestBody = spec.maxBytes
        return .pass(edits)
    }
}

/// Token buckets, one per client key, shared by every event loop behind one lock: a client's rate is
/// exact however its connections are spread over the loops, and the lock is held for a few
/// arithmetic operations per request.
final class RateLimitGuard: EdgeGuard {
    private let spec: RateLimitRule
    private let tokensPerNano: Double
    private struct Bucket {
        var tokens: Double
        var updated: UInt64
    }
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])
    /// Beyond this many keys, buckets that have refilled completely are dropped (they carry no state).
    private static let keyLimit = 100_000

    init(_ spec: RateLimitRule) {
        self.spec = spec
        tokensPerNano = Double(spec.requests) / (Double(spec.periodSeconds) * 1e9)
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        let key: String = switch spec.key {
        case .clientIP(let depth): request.clientAddress(trustedProxyDepth: depth)
        case .header(let name): request.header(name) ?? ""
        case .route: request.routeKey
        }
        let capacity = Double(spec.burst)
        let rate = tokensPerNano
        let (allowed, remaining) = buckets.withLockedValue { buckets -> (Bool, Double) in
            // Read under the lock: a time taken before it could be older than the bucket's last update.
            let now = NIODeadline.now().uptimeNanoseconds
            if buckets.count > Self.keyLimit {
                buckets = buckets.filter { $0.value.tokens + Double(now - min(now, $0.value.updated)) * rate < capacity }
            }
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            bucket.tokens = min(capacity, bucket.tokens + Double(now - min(now, bucket.updated)) * rate)
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            return (allowed, bucket.tokens)
        }
        if allowed { return .pass(EdgeEdits()) }
        let wait = Int(((1 - remaining) / rate / 1e9).rounded(.up))
        let window = spec.periodSeconds
        return .refuse(EdgeRefusal(status: 429, message: "too many requests: retry after \(max(1, wait)) s",
                                   detail: "\(spec.policy): rate limit of \(spec.requests) per \(window == 1 ? "second" : "\(window) s") exceeded",
                                   headers: [("retry-after", String(max(1, wait))),
                                             ("ratelimit-limit", String(spec.requests)),
                                             ("ratelimit-remaining", "0"),
                                             ("ratelimit-reset", String(max(1, wait))),
                                             ("ratelimit-policy", "\(spec.requests);w=\(window);burst=\(spec.burst)")]))
    }
}
