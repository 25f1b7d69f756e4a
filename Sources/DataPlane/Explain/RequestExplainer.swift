import Foundation
import NIOCore
import NIOHTTP1
import RoutingTable

/// `archway explain`: a request taken through the data plane's phases without sending it. Each
/// decision is made by the function the phase itself calls (the traced route lookup, the CORS rule,
/// the route's own answer, the backend refusals, the upstream head), so an explanation cannot say
/// one thing while a request does another. Only what needs the request's moment is left open: which
/// backend a weighted pick lands on, and what the policies that keep counters or check credentials
/// decide (the others are checked by guards of their own kind).
public enum RequestExplainer {
    /// Against a running archway's table: its endpoints' health counts, and its TLS contexts choose.
    public static func explain(_ query: ExplainQuery, store: TableStore, source: String) -> RequestExplanation {
        let served = store.current
        return explain(query, table: served.routes, source: source, tls: { store.tls(socket: $0) }, health: { served.health(of: $0) })
    }

    /// Against a table compiled from manifests (its certificates loaded as a swap would).
    public static func explain(_ query: ExplainQuery, table: CompiledTable, source: String) -> RequestExplanation {
        let certificates = TLSContextCache()
        return explain(query, table: table, source: source,
                       tls: { socket in table.port(socket).flatMap { $0.protocol == "TLS" ? try? TLSPortTable($0, cache: certificates) : nil } },
                       health: { _ in nil })
    }

    static func explain(_ query: ExplainQuery, table: CompiledTable, source: String, tls: (SocketKey) -> TLSPortTable?,
                        health: (CompiledCluster) -> ClusterHealth?) -> RequestExplanation {
        let target = ExplainedURL(query)
        var headers = HTTPHeaders()
        if !query.headers.contains(where: { $0.name.lowercased() == "host" }) { headers.add(name: "host", value: target.authority) }
        for header in query.headers { headers.add(name: header.name, value: header.value) }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: query.method.uppercased()), uri: target.requestTarget,
                                   headers: headers)
        let socket = SocketKey(address: query.gatewayAddress, port: target.port)
        let serverName = (query.serverName ?? (target.tls ? target.hostname : nil))?.lowercased()
        var downstream = Downstream(socket: socket, scheme: target.tls ? "https" : "http", serverName: serverName)
        downstream.clientAddress = query.clientAddress
        downstream.forwardedNode = ForwardedHeaders.node(client: query.clientAddress)

        // The normalise phase's rules: framing, the routing host, the path in its normal form.
        var request = RequestContext(head: head, table: .empty, start: .now(), bodyLimit: nil)
        request.host = routingHost(head.headers.first(name: "host") ?? "")
        let (rawPath, rawQuery) = PathRules.split(head.uri)
        var explanation = RequestExplanation(method: head.method.rawValue, url: query.url, socket: socket.description, host: request.host,
                                             path: String(rawPath), serverName: serverName, source: source)
        if let why = HeaderRules.framingProblem(head) {
            return explanation.answered(LocalAnswer(.badRequest, why))
        }
        switch PathNormalization.normalize(rawPath) {
        case .success(let normalized): request.path = normalized
        case .failure(let refusal): return explanation.answered(LocalAnswer(.badRequest, "\(refusal.reason): \(rawPath)"))
        }
        request.query = rawQuery
        explanation.path = String(request.path)
        // The records' fields the backend sees are made per request; explain shows where they go.
        request.record.requestID = head.headers.first(name: "x-request-id").flatMap { RequestIdentity.isKept(requestID: $0.utf8) ? $0 : nil }
            ?? "(new per request)"

        // Over TLS the server name decides first, as ConnectionSetup does: no listener for it refuses
        // the handshake; one carrying TLSRoutes (passthrough, or terminated) gets the connection's
        // bytes as they are, and nothing is routed by HTTP.
        if target.tls {
            switch tls(socket)?.disposition(serverName: serverName) ?? .refuse {
            case .refuse:
                explanation.outcome = "the TLS handshake is refused: no listener on \(socket) takes server name \"\(serverName ?? "")\""
                return explanation
            case .passthrough:
                return streamed(table.streamRoute(socket: socket, serverName: serverName), serverName: serverName, into: explanation)
            case .terminate where table.isStreamListener(socket: socket, serverName: serverName):
                return streamed(table.streamRoute(socket: socket, serverName: serverName), serverName: serverName, into: explanation)
            case .terminate, .answerACMEChallenge:
                break
            }
        }
        // The match phase, traced.
        let requestHeaders = head.headers
        let view = RequestView(path: request.path, query: request.query, method: head.method.rawValue, header: { requestHeaders.first(name: $0) })
        var trace = ExplainTrace()
        let lookup = table.route(socket: socket, host: request.host, serverName: serverName, request: view, trace: &trace)
        explanation.listeners = listeners(table.port(socket), host: request.host, serverName: serverName, trace: trace)
        explanation.candidates = trace.candidates.map { candidate(candidate: $0) }
        guard case .matched(let route) = lookup else {
            let answer = MatchPhase.unmatched(lookup, socket: socket, host: request.host, serverName: serverName, path: request.path)!
            return explanation.answered(answer)
        }
        explanation.route = "\(route.origin.namespace)/\(route.origin.name) rule \(route.origin.rule) match \(route.origin.match)"
        describe(route, into: &explanation)

        // CORS, then the edge policies (listed: what they decide needs the request's moment).
        switch CORSPhase.decide(route.cors, method: head.method.rawValue, field: { requestHeaders.first(name: $0) }) {
        case .answer(let answer): return explanation.answered(answer)
        case .responseHeaders(let added): explanation.filters.append("CORS adds " + added.map { "\($0.0): \($0.1)" }.joined(separator: "; "))
        case .nothing: break
        }
        let edgeRequest = EdgeRequest(scheme: downstream.scheme, method: head.method.rawValue, host: request.host, path: request.path,
                                      query: request.query, peerAddress: query.clientAddress, header: { requestHeaders.first(name: $0) },
                                      headerValues: { requestHeaders[$0] }, routeKey: EdgeChecks.routeKey(route))
        for rule in route.edgeRules {
            guard let verdict = statelessVerdict(rule, edgeRequest) else {
                explanation.edgePolicies.append("\(rule.policy): decided when the request comes (credentials, counters or an auth service)")
                continue
            }
            switch verdict {
            case .refuse(let refusal):
                explanation.edgePolicies.append("\(rule.policy): refuses it: \(refusal.detail)")
                return explanation.answered(EdgeChecks.answer(refusal))
            default:
                explanation.edgePolicies.append("\(rule.policy): lets it through")
            }
        }

        // The route's own answer, or its backends.
        if let answer = PickUpstreamPhase.ownAnswer(route, scheme: downstream.scheme, host: request.host, path: request.path, query: request.query,
                                                    listenerPort: downstream.listenerPort) {
            return explanation.answered(answer)
        }
        guard case .forward(let choice) = route.action else { return explanation }
        for (picked, weight) in zip(choice.targets, choice.weights) {
            var backend = RequestExplanation.Backend(name: picked.name, weight: weight, share: Double(weight) * 100 / Double(choice.total),
                                                     endpoints: [], usableEndpoints: nil,
                                                     refusal: PickUpstreamPhase.unusable(picked).map(RequestExplanation.Answer.init))
            if case .cluster(let cluster) = picked.target {
                backend.endpoints = cluster.endpoints.map { "\($0.host):\($0.port)" }
                if let health = health(cluster) { backend.usableEndpoints = cluster.endpoints.filter { health.isUsable($0) }.count }
                if backend.refusal == nil {
                    let upstream = RequestFilterPhase.upstreamHead(request, route: route, choice: picked, http2: cluster.http2,
                                                                   downstream: downstream) { headers in
                        let continued = requestHeaders.contains(name: "traceparent") ? "the client's trace, a new span" : "a new trace"
                        headers.replaceOrAdd(name: "traceparent", value: "(\(continued))")
                    }
                    backend.upstream = RequestExplanation.UpstreamRequest(
                        requestLine: "\(upstream.method.rawValue) \(upstream.uri) \(cluster.http2 ? "HTTP/2" : "HTTP/1.1") → \(cluster.id)",
                        headers: upstream.headers.map { ExplainQuery.Header(name: $0.name, value: $0.value) })
                }
            }
            explanation.backends.append(backend)
        }
        let usable = explanation.backends.filter { $0.refusal == nil }
        if usable.isEmpty, let only = explanation.backends.first?.refusal, explanation.backends.count == 1 {
            explanation.answer = only
            explanation.outcome = "answered \(only.status): \(only.message)"
        } else {
            let shares = explanation.backends.map { "\($0.name) (\(RequestExplanation.percent($0.share))\($0.refusal.map { ", answers \($0.status)" } ?? ""))" }
            explanation.outcome = "forwarded to " + shares.joined(separator: " or ")
                + (route.session != nil ? "; a live session keeps its backend" : "")
        }
        return explanation
    }

    /// The check of a policy that keeps no state and asks nobody (an address range, a body size, one
    /// that cannot be enforced), made by a fresh guard of its own kind; nil for the others, whose
    /// answer needs the request's moment (and asking them would spend a rate-limit token).
    static func statelessVerdict(_ rule: EdgeRule, _ request: EdgeRequest) -> EdgeDecision? {
        switch rule {
        case .ipAllowList, .bodySize, .unenforceable: EdgeGuards.make(rule).check(request)
        case .rateLimit, .basicAuth, .apiKeyAuth, .jwtAuth, .forwardAuth: nil
        }
    }

    /// A TLSRoute's connection: its backends by weight, or the close a connection without one gets.
    static func streamed(_ route: CompiledStreamRoute?, serverName: String?, into explanation: RequestExplanation) -> RequestExplanation {
        var explanation = explanation
        guard let route, let choice = route.choice else {
            explanation.outcome = "the connection is closed: no TLSRoute with a backend takes server name \"\(serverName ?? "")\""
            return explanation
        }
        explanation.route = "TLSRoute \(route.origin.namespace)/\(route.origin.name) rule \(route.origin.rule)"
        for (picked, weight) in zip(choice.targets, choice.weights) {
            var endpoints: [String] = []
            if case .cluster(let cluster) = picked.target { endpoints = cluster.endpoints.map { "\($0.host):\($0.port)" } }
            explanation.backends.append(RequestExplanation.Backend(name: picked.name, weight: weight, share: Double(weight) * 100 / Double(choice.total),
                                                                   endpoints: endpoints))
        }
        explanation.outcome = "the TLS connection's bytes go to " + explanation.backends.map { "\($0.name) (\(RequestExplanation.percent($0.share)))" }
            .joined(separator: " or ") + " as they are: nothing in it is routed by HTTP"
        return explanation
    }

    /// The port's listeners, each with why it was or was not the one.
    static func listeners(_ port: PortTable?, host: String, serverName: String?, trace: ExplainTrace) -> [RequestExplanation.Listener] {
        guard let port else { return [] }
        return CompiledTable.httpListeners(of: port).enumerated().map { ordinal, listener in
            let pattern = listener.hostname ?? "*"
            let why: String
            if ordinal == trace.hostListener, let chosenByName = trace.serverNameListener, chosenByName != ordinal {
                why = "owns host \"\(host)\", but the TLS server name \"\(serverName ?? "")\" chose another listener: 421"
            } else if ordinal == trace.hostListener {
                why = "chosen: the most specific listener hostname covering \"\(host)\""
            } else if ordinal == trace.serverNameListener {
                why = "chosen by the TLS server name \"\(serverName ?? "")\" (and its certificate)"
            } else if pattern == "*" || Hostnames.covers(pattern, host) {
                why = "covers \"\(host)\", but a more specific listener owns it"
            } else {
                why = "hostname \(pattern) does not cover \"\(host)\""
            }
            return RequestExplanation.Listener(names: listener.refs.map { "\($0.gatewayNamespace)/\($0.gatewayName)/\($0.listenerName)" },
                                               hostname: listener.hostname,
                                               chosen: ordinal == trace.hostListener && (trace.serverNameListener ?? ordinal) == ordinal,
                                               why: why)
        }
    }

    static func candidate(candidate: ExplainTrace.Tried) -> RequestExplanation.Candidate {
        let match = candidate.route.match
        return RequestExplanation.Candidate(route: "\(candidate.route.origin.namespace)/\(candidate.route.origin.name)",
                                            rule: candidate.route.origin.rule, match: candidate.route.origin.match,
                                            virtualHost: candidate.virtualHost, conditions: MatchText.conditions(match),
                                            matched: candidate.mismatch == nil, why: candidate.mismatch.map { MatchText.why($0, match) })
    }

    static func describe(_ route: CompiledRoute, into explanation: inout RequestExplanation) {
        if let edits = route.requestHeaders { explanation.filters.append("RequestHeaderModifier " + MatchText.edits(edits)) }
        if let edits = route.responseHeaders { explanation.filters.append("ResponseHeaderModifier " + MatchText.edits(edits)) }
        if let rewrite = route.rewrite {
            explanation.filters.append("URLRewrite" + (rewrite.hostname.map { " hostname \($0)" } ?? "")
                                       + (rewrite.path.map { " path \(MatchText.rewrite($0))" } ?? ""))
        }
        if case .redirect(let redirect) = route.action {
            explanation.filters.append("RequestRedirect \(redirect.statusCode)" + (redirect.scheme.map { " scheme \($0)" } ?? "")
                                       + (redirect.hostname.map { " hostname \($0)" } ?? "") + (redirect.port.map { " port \($0)" } ?? "")
                                       + (redirect.path.map { " path \(MatchText.rewrite($0))" } ?? ""))
        }
        if route.cors != nil { explanation.filters.append("CORS") }
        explanation.session = route.session?.summary
        let timeouts = [route.requestTimeoutMillis.map { "request \($0) ms" }, route.backendTimeoutMillis.map { "backendRequest \($0) ms" }].compactMap { $0 }
        explanation.timeouts = timeouts.isEmpty ? nil : timeouts.joined(separator: ", ")
        explanation.retry = route.retry.map { "\($0.attempts) attempts on \($0.codes.map(String.init).joined(separator: ",")), backoff \($0.backoffMillis) ms" }
        explanation.mirrors = route.mirrors.map { "\($0.name) (\(RequestExplanation.percent($0.fraction * 100)) of requests)" }
    }
}

extension RequestExplanation {
    /// Ends the explanation with the gateway's own answer.
    fileprivate func answered(_ answer: LocalAnswer) -> RequestExplanation {
        var explanation = self
        explanation.answer = Answer(answer)
        explanation.outcome = "answered \(answer.status.code): \(answer.message)"
        return explanation
    }
}

extension RequestExplanation.Answer {
    init(_ answer: LocalAnswer) {
        self.init(status: Int(answer.status.code), message: answer.message,
                  headers: answer.headers.map { ExplainQuery.Header(name: $0.0, value: $0.1) })
    }
}
