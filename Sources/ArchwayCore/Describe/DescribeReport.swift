import Foundation
import GatewayAPI
import Translator

/// One object as `archway describe` shows it: its status by parent or listener, the routes attached
/// (a Gateway), the policies that apply and which wins (a route), the ReferenceGrants it relies on,
/// and its events. The same for manifests, a running archway and a cluster; `-o json` prints it as is.
public struct DescribeReport: Codable, Sendable {
    public struct ConditionGroup: Codable, Sendable {
        /// "" for the object itself, "listener https", "parent Gateway infra/web".
        public var scope: String
        public var conditions: [Condition]
    }
    public struct AttachedRoute: Codable, Sendable, Equatable {
        public var kind: String
        public var namespace: String
        public var name: String
        /// The listeners it attached through.
        public var listeners: [String]
    }

    public var kind: String
    public var namespace: String?
    public var name: String
    /// Where this was read: the manifests, a running archway, the cluster.
    public var source: String
    public var conditions: [ConditionGroup] = []
    /// Why there is no status to show (not archway's class, not reconciled yet), when there is none.
    public var statusNote: String?
    /// A Gateway's (or one of its listeners') routes.
    public var attachedRoutes: [AttachedRoute]?
    /// Policies attached to a Gateway or its listeners, which its routes inherit.
    public var gatewayPolicies: [GatewayPolicy]?
    /// A route's parentRefs, as written.
    public var parents: [String]?
    /// For an HTTPRoute or GRPCRoute: every policy that reaches each rule, and the winner of each kind.
    public var policies: [RulePolicies]?
    public var referenceGrants: [ReferenceGrantUse] = []
    public var events: [ArchwayEvent] = []
}

extension DescribeReport {
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Sections as `kubectl describe` prints them: "Field:  value", nested by two spaces, tables with a header.
    public func text(now: Date = Date()) -> String {
        var out = ""
        func line(_ indent: Int, _ text: String) { out += String(repeating: " ", count: indent) + text + "\n" }
        func field(_ name: String, _ value: String) { line(0, (name + ":").padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        field("Name", name)
        if let namespace { field("Namespace", namespace) }
        field("Kind", kind)
        field("Source", source)
        line(0, "Status:")
        if let statusNote { line(2, statusNote) }
        for group in conditions {
            var indent = 2
            if !group.scope.isEmpty {
                line(2, group.scope.prefix(1).uppercased() + group.scope.dropFirst() + ":")
                indent = 4
            }
            let rows = group.conditions.map { [$0.type, $0.status, $0.reason, $0.message] }
            for row in Self.table(["Type", "Status", "Reason", "Message"], rows) { line(indent, row) }
        }
        if let attachedRoutes {
            line(0, "Attached Routes:")
            if attachedRoutes.isEmpty { line(2, "<none>") }
            let rows = attachedRoutes.map { ["\($0.kind)", "\($0.namespace)/\($0.name)", $0.listeners.joined(separator: ", ")] }
            if !rows.isEmpty { for row in Self.table(["Kind", "Name", "Listeners"], rows) { line(2, row) } }
        }
        if let gatewayPolicies {
            line(0, "Policies (inherited by its routes):")
            if gatewayPolicies.isEmpty { line(2, "<none>") }
            let rows = gatewayPolicies.map { [$0.policy, $0.listener.map { "listener \($0)" } ?? "Gateway"] }
            if !rows.isEmpty { for row in Self.table(["Policy", "Attached To"], rows) { line(2, row) } }
        }
        if let parents {
            line(0, "Parents:")
            for parent in parents { line(2, parent) }
            if parents.isEmpty { line(2, "<none>") }
        }
        if let policies {
            line(0, "Policies:")
            if policies.isEmpty { line(2, "<none>") }
            for rule in policies {
                line(2, "Rule \(rule.rule)\(rule.ruleName.map { " (\($0))" } ?? "") through \(rule.through.joined(separator: "; ")):")
                let rows = rule.policies.map { policy in
                    [policy.kind, policy.policy, policy.level.rawValue,
                     policy.wins ? "yes" : "no, overridden by " + (Self.winner(of: policy.kind, in: rule.policies).map { "\($0.policy) (\($0.level.rawValue))" } ?? "?")]
                    + [policy.problem.map { "cannot be enforced, requests refused with 500: \($0)" } ?? ""]
                }
                for row in Self.table(["Kind", "Policy", "Attached At", "Wins", ""], rows) { line(4, row) }
            }
        }
        line(0, "ReferenceGrants:")
        if referenceGrants.isEmpty { line(2, "<none>") }
        for use in referenceGrants {
            line(2, use.reference + ": " + (use.grant.map { "allowed by ReferenceGrant \($0)" } ?? "NOT permitted: no ReferenceGrant in its namespace allows it"))
        }
        line(0, "Events:")
        if events.isEmpty { line(2, "<none>") }
        let rows = events.map { event in
            [event.type.rawValue, event.reason, Self.age(event.lastTime, now: now) + (event.count > 1 ? " (x\(event.count) since \(Self.age(event.firstTime, now: now)))" : ""),
             event.note]
        }
        if !rows.isEmpty { for row in Self.table(["Type", "Reason", "Age", "Message"], rows) { line(2, row) } }
        return out
    }

    static func winner(of kind: String, in policies: [AppliedPolicy]) -> AppliedPolicy? { policies.first { $0.kind == kind && $0.wins } }

    /// Columns padded to their widest cell; the last column is left as it is.
    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces)
        }
    }

    /// "12s", "5m", "3h", "2d": kubectl's ages.
    static func age(_ time: String, now: Date) -> String {
        guard let date = ISO8601DateFormatter().date(from: time) else { return time }
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
