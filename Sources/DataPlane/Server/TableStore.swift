import RoutingTable
import NIOConcurrencyHelpers

/// Holds the table being served. A swap is one assignment: each request reads `current` once at its
/// start and keeps that immutable table until it ends, so in-flight requests finish on the old table.
public final class TableStore: Sendable {
    private let box: NIOLockedValueBox<CompiledTable>

    public init(_ table: CompiledTable = .empty) { box = NIOLockedValueBox(table) }

    public var current: CompiledTable { box.withLockedValue { $0 } }

    public func swap(_ table: CompiledTable) { box.withLockedValue { $0 = table } }
}
