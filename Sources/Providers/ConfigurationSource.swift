import GatewayAPI

/// Where the resources come from: files, or the Kubernetes API server. A source only feeds complete
/// loads in; translating and serving them is the runtime's business.
public protocol ConfigurationSource: Sendable {
    /// The first complete load. Returns once the source has read everything it has.
    func initialLoad() async -> ManifestLoader.Result
    /// Every later settled change, each a complete load, until the task is cancelled.
    func changes() async -> AsyncStream<ManifestLoader.Result>
}
