import Foundation
import GatewayAPI
import Translator

/// What `archway describe` reads, wherever it came from: the objects, their statuses (computed here,
/// by a running archway, or read from the cluster), the translation's attachments, and the events.
public struct DescribeSource: Sendable {
    /// "the manifests in examples/playground", "the cluster"...: said in the output and in errors.
    public var origin: String
    public var resources: [Resource]
    public var snapshot: ResourceSnapshot
    public var report: StatusReport
    public var attachments: RouteAttachments
    public var translator: Translator
    public var events: [ArchwayEvent]

    public init(origin: String, resources: [Resource], snapshot: ResourceSnapshot, report: StatusReport, attachments: RouteAttachments,
                translator: Translator, events: [ArchwayEvent]) {
        self.origin = origin
        self.resources = resources
        self.snapshot = snapshot
        self.report = report
        self.attachments = attachments
        self.translator = translator
        self.events = events
    }

    /// Manifests translated once, as `archway status --config` does; the "events" are what loading
    /// and translating found wrong: manifest errors and conditions that are False.
    public static func offline(paths: [String], controllerName: String, ingress: IngressServing? = IngressServing()) -> DescribeSource {
        let translation = OfflineTranslation(paths: paths, controllerName: controllerName, ingress: ingress)
        let report = StatusReport(snapshot: translation.snapshot, statuses: translation.result.statuses, table: translation.result.table)
        let log = EventLog(capacity: Int.max)
        log.recordReloadFailure(translation.load.errors, reason: "Invalid")
        var tracker = RejectionTracker()
        for event in tracker.events(for: report.items) { log.record(event) }
        return DescribeSource(origin: "the manifests in \(paths.joined(separator: ", "))", resources: translation.load.resources.map(\.resource),
                              snapshot: translation.snapshot, report: report, attachments: translation.result.attachments,
                              translator: translation.translator, events: log.recent())
    }

    /// One object, or an error naming what was looked for and what exists nearby.
    public func describe(kind: String, namespace: String?, name: String, listener: String? = nil) throws(DescribeError) -> DescribeReport {
        let clusterScoped = DescribedKind.isClusterScoped(kind)
        let namespace = clusterScoped ? "" : namespace ?? "default"
        let target = ObjectRef(kind: kind, namespace: namespace, name: name)
        let sameKind = resources.filter { $0.kind == kind }.map(\.ref)
        guard let resource = resources.first(where: { $0.kind == kind && $0.ref.name == name && (clusterScoped || $0.ref.namespace == namespace) }) else {
            throw DescribeError(notFound(target, among: sameKind))
        }
        var described = DescribeReport(kind: kind, namespace: clusterScoped ? nil : namespace, name: name, source: origin)
        let item = report.items.first { $0.ref == target }
        described.conditions = (item?.conditionGroups ?? []).map { .init(scope: $0.scope, conditions: $0.conditions) }
        if item == nil || item?.status == nil {
            described.statusNote = report.noStatus[target.description] ?? "no status from archway: not an object archway computes a status for, or not of its class"
        } else if case .route(let status) = item?.status, status.parents.isEmpty {
            described.statusNote = "not attached: " + (report.unattached["\(namespace)/\(name)"] ?? "no parentRef names a Gateway served by this controller")
        }
        switch resource {
        case .gateway(let gateway):
            describeGateway(gateway, listener: listener, into: &described)
        case .httpRoute(let route):
            described.parents = (route.spec.parentRefs ?? []).map { StatusReport.Item.describe(Self.defaulted($0, namespace)) }
            described.policies = translator.appliedPolicies(to: route, kind: "HTTPRoute", attachments: attachments, snapshot: snapshot)
            let refs = (route.spec.rules ?? []).flatMap { rule in
                (rule.backendRefs ?? []) + (rule.filters ?? []).compactMap { $0.requestMirror?.backendRef }
            }
            described.referenceGrants = snapshot.referenceGrantUses(ofRoute: kind, namespace: namespace, backendRefs: refs)
        case .grpcRoute(let route):
            described.parents = (route.spec.parentRefs ?? []).map { StatusReport.Item.describe(Self.defaulted($0, namespace)) }
            described.referenceGrants = snapshot.referenceGrantUses(ofRoute: kind, namespace: namespace,
                                                                    backendRefs: (route.spec.rules ?? []).flatMap { $0.backendRefs ?? [] })
        case .streamRoute(let route):
            described.parents = (route.spec.parentRefs ?? []).map { StatusReport.Item.describe(Self.defaulted($0, namespace)) }
            described.referenceGrants = snapshot.referenceGrantUses(ofRoute: kind, namespace: namespace,
                                                                    backendRefs: (route.spec.rules ?? []).flatMap { $0.backendRefs ?? [] })
        default: break
        }
        described.events = events.filter { $0.regards(target) }
        return described
    }

    private func describeGateway(_ gateway: Gateway, listener: String?, into described: inout DescribeReport) {
        let key = gateway.metadata.namespacedName
        if let listener {
            described.conditions = described.conditions.filter { $0.scope.isEmpty || $0.scope == "listener \(listener)" }
        }
        described.attachedRoutes = attachments.routes(of: key).compactMap { route, listeners in
            let names = listeners.map(\.name).filter { listener == nil || $0 == listener }
            return names.isEmpty ? nil : .init(kind: route.kind, namespace: route.namespace, name: route.name, listeners: names)
        }.sorted { ($0.kind, $0.namespace, $0.name) < ($1.kind, $1.namespace, $1.name) }
        described.gatewayPolicies = attachments.policies(attachedTo: key).filter { listener == nil || $0.listener == nil || $0.listener == listener }
        described.referenceGrants = snapshot.referenceGrantUses(ofGateway: gateway)
    }

    static func defaulted(_ ref: ParentReference, _ namespace: String) -> ParentReference {
        var ref = ref
        if ref.namespace == nil { ref.namespace = namespace }
        return ref
    }

    /// "HTTPRoute default/shop not found in the cluster; HTTPRoute shop exists in namespace team-a (-n team-a)".
    func notFound(_ target: ObjectRef, among existing: [ObjectRef]) -> String {
        var message = "\(target) not found in \(origin)"
        let elsewhere = existing.filter { $0.name == target.name }.map(\.namespace)
        if !elsewhere.isEmpty, !DescribedKind.isClusterScoped(target.kind) {
            message += "; \(target.kind) \(target.name) exists in namespace \(elsewhere.sorted().joined(separator: ", ")) (-n \(elsewhere.sorted()[0]))"
        } else if let close = KnownKinds.closest(to: target.name, among: existing.filter { $0.namespace == target.namespace }.map(\.name)) {
            message += "; did you mean \(target.kind.lowercased())/\(close)?"
        } else if existing.isEmpty {
            message += "; there is no \(target.kind) at all"
        } else {
            let names = existing.sorted().prefix(10).map { $0.namespace.isEmpty ? $0.name : "\($0.namespace)/\($0.name)" }
            message += "; \(target.kind)s there: \(names.joined(separator: ", "))\(existing.count > 10 ? ", ..." : "")"
        }
        return message
    }
}
