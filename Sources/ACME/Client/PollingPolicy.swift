/// How long and how often to poll an authorization or order. The server's Retry-After wins over
/// `interval`, but never beyond `maximumInterval`, and nothing waits past `timeout`: a stuck CA yields
/// an error, not a hung renewal loop.
public struct PollingPolicy: Sendable {
    public var interval: Duration
    public var maximumInterval: Duration
    public var timeout: Duration

    public init(interval: Duration = .seconds(2), maximumInterval: Duration = .seconds(30), timeout: Duration = .seconds(300)) {
        self.interval = interval
        self.maximumInterval = maximumInterval
        self.timeout = timeout
    }
}
