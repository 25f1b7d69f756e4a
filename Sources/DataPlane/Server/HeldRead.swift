/// A `read` a handler declined to pass on while the other side of the proxy could not keep up, and
/// passes on once it can: the one backpressure latch of the proxy's handlers, both directions.
/// The caller does the `context.read()` itself, after the latch has changed: a read can re-enter
/// the handler synchronously (buffered bytes are delivered at once), so it must not happen inside
/// a mutation of the handler's state.
struct HeldRead {
    private var held = false

    /// Whether to pass a read on now; when not, it is held.
    mutating func passes(when allowed: Bool) -> Bool {
        if !allowed { held = true }
        return allowed
    }

    /// Whether a held read is due now; it is no longer held afterwards.
    mutating func releases() -> Bool {
        defer { held = false }
        return held
    }
}
