import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Server spans exported over OTLP/HTTP (swift-otel), only when an endpoint is given: archway's own
/// logs and metrics stay where they are (stderr, Prometheus).
public struct OTLPTracing: Sendable {
    public let tracer: any Tracer
    let exporter: any Service

    /// `endpoint`: the collector's traces URL, e.g. http://127.0.0.1:4318/v1/traces.
    public init(endpoint: String, json: Bool = false, exportDelay: Duration = .seconds(1)) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "archway"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.otlpExporter.endpoint = endpoint
        configuration.traces.otlpExporter.protocol = json ? .httpJSON : .httpProtobuf
        configuration.traces.batchSpanProcessor.scheduleDelay = exportDelay
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        tracer = backend.factory
        exporter = backend.service
    }

    /// Runs the exporter until `shutdown` asks it to flush and stop.
    func run(logger: Logger) -> (group: ServiceGroup, task: Task<Void, Never>) {
        let group = ServiceGroup(configuration: .init(services: [exporter], logger: logger))
        return (group, Task { try? await group.run() })
    }
}
