import Logging
import ServiceLifecycle

/// `archway serve` as a swift-service-lifecycle service: SIGTERM/SIGINT start a graceful drain.
public struct ServeService: Service {
    let runtime: GatewayRuntime

    public init(runtime: GatewayRuntime) { self.runtime = runtime }

    public func run() async throws {
        try await runtime.start()
        await cancelWhenGracefulShutdown {
            await runtime.watch()
        }
        await runtime.shutdown(releasingThreads: false)
    }

    public static func runUntilSignalled(_ runtime: GatewayRuntime, logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: ServeService(runtime: runtime))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
