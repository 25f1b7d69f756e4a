import Foundation
import Glibc
import NIOConcurrencyHelpers
import Testing

/// Network namespaces a layer-2 test makes for itself (named aw-l2-<pid>-<tag>-<role>) and removes
/// at the end, failed or not; the processes it starts inside them are killed first. Traffic stays
/// inside these namespaces: nothing here touches the host's own interfaces.
final class NetnsLab: @unchecked Sendable {
    let prefix: String
    private let lock = NIOLock()
    private var namespaces: [String] = []
    private var processes: [Process] = []
    let directory: URL

    init(tag: String) throws {
        prefix = "aw-l2-\(getpid())-\(tag)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Whether this machine lets the tests make namespaces (root with CAP_SYS_ADMIN, iproute2 installed).
    static var available: Bool {
        (try? ExternalTool.run("ip", ["netns", "list"]).status) == 0 && getuid() == 0
    }

    /// A new namespace with `lo` up.
    func namespace(_ role: String) throws -> String {
        let name = "\(prefix)-\(role)"
        try ip(["netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try ip(["-n", name, "link", "set", "lo", "up"])
        return name
    }

    func ip(_ arguments: [String]) throws {
        let result = try ExternalTool.run("ip", arguments)
        guard result.status == 0 else { throw HarnessError.timeout("ip \(arguments.joined(separator: " ")): \(result.stderr)") }
    }

    /// A veth pair between two namespaces, each end with a fixed MAC, up, with `addresses` (CIDR) on the first.
    func link(_ first: (ns: String, name: String, mac: String, addresses: [String]), _ second: (ns: String, name: String, mac: String, addresses: [String])) throws {
        try ip(["link", "add", first.name, "netns", first.ns, "address", first.mac, "type", "veth",
                "peer", "name", second.name, "netns", second.ns, "address", second.mac])
        for end in [first, second] {
            for address in end.addresses {
                try ip(["-n", end.ns, "addr", "add", address, "dev", end.name] + (address.contains(":") ? ["nodad"] : []))
            }
            try ip(["-n", end.ns, "link", "set", end.name, "up"])
        }
    }

    /// Runs a tool inside `ns` to the end.
    func run(_ ns: String, _ tool: String, _ arguments: [String]) throws -> ExternalTool.Output {
        try ExternalTool.run("ip", ["netns", "exec", ns, tool] + arguments)
    }

    /// Runs it on a thread of its own, for tests whose other work needs Swift's few threads meanwhile.
    func runOffThePool(_ ns: String, _ tool: String, _ arguments: [String]) async throws -> ExternalTool.Output {
        try await ExternalTool.runOffThePool("ip", ["netns", "exec", ns, tool] + arguments)
    }

    /// Starts a long-running process inside `ns` (ip netns exec execs it, so its pid is the tool's),
    /// stdout and stderr to `log` in the lab directory.
    @discardableResult
    func start(_ ns: String?, _ command: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = (ns.map { ["ip", "netns", "exec", $0] } ?? []) + command
        let path = directory.appendingPathComponent(log).path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        lock.withLock { processes.append(process) }
        return process
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    /// Kills every process started here, then deletes the namespaces (their veths and bridges go with them).
    func tearDown() {
        let (started, names) = lock.withLock { (processes, namespaces) }
        for process in started where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in started { process.waitUntilExit() }
        for name in names.reversed() { _ = try? ExternalTool.run("ip", ["netns", "del", name]) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Polls every 100 ms until `condition` holds; false if it never did within `seconds`.
    static func eventually(seconds: Double, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try condition()
    }

    /// The MACs that answered `arping -b` (broadcast every request, so every announcer hears each
    /// one), one entry per reply, upper case as arping prints them.
    func arpingReplies(from ns: String, interface: String, to address: String, count: Int) async throws -> (replies: [String], output: String) {
        let result = try await runOffThePool(ns, "arping", ["-b", "-c", "\(count)", "-w", "\(count + 2)", "-I", interface, address])
        let replies = result.stdout.split(separator: "\n").filter { $0.contains("reply from") }.compactMap { line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        return (replies, result.stdout + result.stderr)
    }
}
