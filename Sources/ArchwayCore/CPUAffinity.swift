import Foundation
import NIOCore

/// Cores this process may run on. NIO's `System.coreCount` counts every online core even under
/// `taskset` or a cpuset, which would put two event loops on one pinned core.
public enum CPUAffinity {
    public static var usableCores: Int {
        // `Cpus_allowed_list: 0-1,4` in /proc/self/status (sched_getaffinity is not exposed to Swift).
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else {
            return System.coreCount
        }
        let count = allowedCount(String(line.dropFirst("Cpus_allowed_list:".count)))
        return count > 0 ? min(count, System.coreCount) : System.coreCount
    }

    static func allowedCount(_ list: String) -> Int {
        list.trimmingCharacters(in: .whitespaces).split(separator: ",").reduce(0) { total, range in
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            return total + (bounds.count == 2 ? bounds[1] - bounds[0] + 1 : bounds.count)
        }
    }
}
