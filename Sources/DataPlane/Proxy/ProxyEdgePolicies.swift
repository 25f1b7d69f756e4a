import NIOCore
import NIOHTTP1
import RoutingTable

/// A request held while its route's edge policies decide, with what it needs to go on afterwards.
final class EdgeWait {
    let head: HTTPRequestHead
    let route: CompiledRoute
    let labels: RequestRecord
    let host: String
    let path: Substring
    let query: Substring?
    let upgrade: String?
    let corsHeaders: [(String, String)]
    var edits = EdgeEdits()
    var next = 0
    /// Body parts that arrived while a decision was pending.
    var parts: [HTTPServerRequestPart] = []

    init(head: HTTPRequestHead, route: CompiledRoute, labels: RequestRecord, host: String, path: Substring, query: Substring?,
         upgrade: String?, corsHeaders: [(String, String)]) {
        self.head = head
        self.route = route
        self.labels = labels
        self.host = host
        self.path = path
        self.query = query
        self.upgrade = upgrade
        self.corsHeaders = corsHeaders
    }
}

extension ProxyHandler {
    /// Runs the guards in phase order. Synchronous decisions (allow lists, rate limits, cached
    /// credentials) cost no allocation beyond the wait; a deferred one parks the request and resumes
    /// here, on the connection's event loop, when the guard answers.
    func runEdgeGuards(_ wait: EdgeWait, context: ChannelHandlerContext) {
        let headers = wait.head.headers
        let origin = wait.route.origin
        let request = EdgeRequest(scheme: scheme, method: wait.head.method.rawValue, host: wait.host, path: wait.path, query: wait.query,
                                  peerAddress: clientAddress, header: { headers.first(name: $0) }, headerValues: { headers[$0] },
                                  routeKey: "\(origin.namespace)/\(origin.name)#\(origin.rule)")
        let guards = wait.route.edgeGuards
        while wait.next < guards.count {
            let edgeGuard = guards[wait.next]
            wait.next += 1
            switch edgeGuard.check(request) {
            case .pass(let edits):
                wait.edits.merge(edits)
            case .refuse(let refusal):
                return refuseAtEdge(wait, refusal)
            case .later(let start):
                state = .authorizing(wait)
                let bound = NIOLoopBound((self, wait), eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                start { decision in
                    eventLoop.execute { bound.value.0.resumeEdge(bound.value.1, decision) }
                }
                return
            }
        }
        let parked: Bool
        if case .authorizing = state { parked = true } else { parked = false }
        state = .idle
        dispatch(wait.head, route: wait.route, labels: wait.labels, host: wait.host, path: wait.path, query: wait.query,
                 upgrade: wait.upgrade, corsHeaders: wait.corsHeaders, edits: wait.edits, context: context)
        guard parked else { return }
        // Replayed through the normal path, so body limits and backpressure apply as usual.
        let parts = wait.parts
        wait.parts = []
        for part in parts { handle(part, context: context) }
        drainPipelined()
        resumeClientReads()
    }

    private func resumeEdge(_ wait: EdgeWait, _ decision: EdgeDecision) {
        // The client went away, or the connection was failed meanwhile: nothing to resume.
        guard let context, case .authorizing(let current) = state, current === wait else { return }
        switch decision {
        case .pass(let edits):
            wait.edits.merge(edits)
            runEdgeGuards(wait, context: context)
        case .refuse(let refusal):
            refuseAtEdge(wait, refusal)
        case .later:
            refuseAtEdge(wait, EdgeRefusal(status: 500, message: "internal error", detail: "edge policy deferred its decision twice"))
        }
    }

    private func refuseAtEdge(_ wait: EdgeWait, _ refusal: EdgeRefusal) {
        let ended = wait.parts.contains { if case .end = $0 { return true } else { return false } }
        if case .authorizing = state { state = .idle }
        var record = wait.labels
        record.refusedBy = refusal.detail
        respondLocally(HTTPResponseStatus(statusCode: refusal.status), refusal.message, extraHeaders: refusal.headers.map { ($0.name, $0.value) },
                       record: record, requestEnded: ended)
        wait.parts = []
        drainPipelined()
        resumeClientReads()
    }
}
