import NIOCore
import NIOHTTP1

/// Where the current request of a client side stands.
enum RequestState {
    /// No request under way: an HTTP/1 connection awaits the next head, an HTTP/2 stream its first
    /// (or is over).
    case idle
    /// Answered locally; the rest of the request body is read and dropped.
    case discarding
    /// An edge policy is deciding; the client's body is not taken meanwhile.
    case authorizing(ParkedRequest)
    case forwarding(UpstreamAttempt)
}

/// The client side that runs requests through the phases: an HTTP/1 connection (`ProxyHandler`) or
/// an HTTP/2 stream (`HTTP2ServerStream`). Both act on a `PhaseDecision` the same way, so the rules
/// for answering, forwarding and parking a request while an edge policy decides live here once;
/// the conforming type says what a local answer looks like on its protocol and how parked body
/// parts are replayed.
protocol RequestDriver: ClientConnection {
    var pipeline: RequestPipeline { get }
    var tables: TableStore { get }
    var state: RequestState { get set }
    /// nil once the client has gone.
    var eventLoop: (any EventLoop)? { get }
    /// The gateway answers the request itself.
    func answer(_ answer: LocalAnswer, for request: RequestContext)
    /// The policy let the request on: the body parts that arrived while it decided go the normal way.
    func resumeAfterPolicy(replaying parts: [HTTPServerRequestPart])
}

extension RequestDriver {
    /// `parked` is the request's parking place when it has waited for a policy before.
    func act(on decision: PhaseDecision, _ request: RequestContext, parked: ParkedRequest? = nil) {
        switch decision {
        case .answer(let local):
            answer(local, for: request)
        case .forward(let plan):
            let attempt = UpstreamAttempt(request: request, plan: plan, client: self, downstream: pipeline.downstream, loop: pipeline.loop,
                                          tables: tables)
            state = .forwarding(attempt)
            attempt.start()
        case .wait(let decide):
            guard let eventLoop else { return }
            let parked = parked ?? ParkedRequest(request)
            parked.request = request
            state = .authorizing(parked)
            let bound = NIOLoopBound((self, parked), eventLoop: eventLoop)
            decide { decision in
                eventLoop.execute { bound.value.0.policyDecided(decision, for: bound.value.1) }
            }
        case .continue:
            preconditionFailure("the pipeline returns only decisions")
        }
    }

    /// A piece of the request's body, or its end, wherever the request stands.
    func take(_ part: HTTPServerRequestPart) {
        switch (part, state) {
        case (.body, .authorizing(let parked)), (.end, .authorizing(let parked)):
            parked.parts.append(part)
        case (.body(let buffer), .forwarding(let attempt)):
            attempt.sendBody(buffer)
        case (.end(let trailers), .forwarding(let attempt)):
            attempt.send(.end(trailers))
        case (.end, .discarding):
            state = .idle
        case (.head, _), (.body, _), (.end, _):
            break  // the request was answered: the rest of its body is dropped
        }
    }

    var parkedRequest: ParkedRequest? {
        if case .authorizing(let parked) = state { return parked }
        return nil
    }

    private func policyDecided(_ decision: EdgeDecision, for parked: ParkedRequest) {
        // The client went away, or the request was failed meanwhile: nothing to resume.
        guard parkedRequest === parked, eventLoop != nil else { return }
        state = .idle
        var request = parked.request
        let next = pipeline.resume(&request, after: decision)
        act(on: next, request, parked: parked)
        if parkedRequest != nil { return }  // another policy is deciding
        // Replayed through the normal path, so body limits and backpressure apply as usual.
        let parts = parked.parts
        parked.parts = []
        resumeAfterPolicy(replaying: parts)
    }
}
