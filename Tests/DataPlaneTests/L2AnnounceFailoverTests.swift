import GatewayAPI
import Foundation
import Glibc
import L2Announcement
import Testing

/// Two `archway serve --kubernetes --announce` replicas on one LAN (a bridge in a namespace of its
/// own), electing through membership Leases on the fake API server: exactly one answers ARP for the
/// Gateway's address, and when it is killed the other takes the address over while a client keeps
/// sending requests: within a second, and with no request failing but the one in flight at the kill
/// (the killed replica's addresses go with it, so new connections are retried rather than refused,
/// and its silence on the LAN is noticed in half a second). The replicas reach the fake API server (on the root namespace's loopback)
/// through a Unix socket that socat bridges on both sides, so no traffic leaves loopback and the
/// test's namespaces.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: NetnsLab.available))
struct L2AnnounceFailoverTests {
    static let address = "10.99.0.100"
    static let macs = ["replica-a": "02:a2:00:00:00:0a", "replica-b": "02:a2:00:00:00:0b"]

    @Test func oneReplicaAnswersAndTheOtherTakesOverWhenItIsKilled() async throws {
        let lab = try NetnsLab(tag: "ha")
        defer { lab.tearDown() }
        let server = FakeAPIServer(collections: FakeAPIServer.defaultCollections + [FakeAPIServer.addressPools])
        try await server.start()
        defer { Task { await server.stop() } }
        try server.apply(Manifests.join(L2AnnounceNetnsTests.config.replacingOccurrences(of: ", {type: IPAddress, value: \"\(L2AnnounceNetnsTests.address6)\"}", with: "")))

        let lan = try lab.namespace("lan"), client = try lab.namespace("client")
        try lab.ip(["-n", lan, "link", "add", "br0", "type", "bridge"])
        try lab.ip(["-n", lan, "link", "set", "br0", "up"])
        try lab.link((client, "lan0", "02:a2:00:00:00:01", ["10.99.0.1/24"]), (lan, "port-c", "02:a2:00:00:01:01", []))
        try lab.ip(["-n", lan, "link", "set", "port-c", "master", "br0"])

        let socket = lab.directory.appendingPathComponent("api.sock").path
        try lab.start(nil, ["socat", "UNIX-LISTEN:\(socket),fork", "TCP:127.0.0.1:\(server.port)"], log: "socat-root.log")
        let kubeconfig = lab.directory.appendingPathComponent("kubeconfig").path
        try """
            apiVersion: v1
            kind: Config
            current-context: test
            contexts: [{name: test, context: {cluster: fake, user: archway, namespace: archway-system}}]
            clusters: [{name: fake, cluster: {server: "http://127.0.0.1:6443"}}]
            users: [{name: archway, user: {token: test-token}}]
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)

        var replicas: [String: Process] = [:]
        var namespaces: [String: String] = [:]
        for (index, identity) in ["replica-a", "replica-b"].enumerated() {
            let ns = try lab.namespace(identity)
            namespaces[identity] = ns
            try lab.link((ns, "lan0", Self.macs[identity]!, ["10.99.0.\(index + 2)/24"]), (lan, "port-\(index)", "02:a2:00:00:01:0\(index + 2)", []))
            try lab.ip(["-n", lan, "link", "set", "port-\(index)", "master", "br0"])
            try lab.start(ns, ["socat", "TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:\(socket)"], log: "socat-\(identity).log")
            try lab.start(ns, [CLITests.binary, "echo", "\(identity)=127.0.0.1:18080"], log: "echo-\(identity).log")
            try await Task.sleep(for: .milliseconds(300))  // socat listening before archway dials
            replicas[identity] = try lab.start(ns, [CLITests.binary, "serve", "--kubernetes", "--kubeconfig", kubeconfig, "--leader-identity", identity,
                                                    "--threads", "1", "--ingress-http-port", "0", "--announce"], log: "\(identity).log")
        }
        for (identity, ns) in namespaces {
            let ready = try await NetnsLab.eventually(seconds: 30) {
                try lab.run(ns, "curl", ["-s", "-m", "1", "http://127.0.0.1:9901/readyz"]).stdout == "ready\n"
            }
            try #require(ready, "\(identity) never became ready: \(lab.log("\(identity).log"))")
        }

        let owner = try #require(Rendezvous.owner(of: IPAddress(Self.address)!, among: ["replica-a", "replica-b"]))
        let survivor = owner == "replica-a" ? "replica-b" : "replica-a"
        // Both replicas know each other once the Leases have been listed: one announcer from then on.
        let settled = try await NetnsLab.eventually(seconds: 10) {
            let document = try lab.run(namespaces[survivor]!, "curl", ["-s", "http://127.0.0.1:9901/announcements"]).stdout
            return document.contains("\"replica-a\"") && document.contains("\"replica-b\"") && document.contains("\"announcedHere\" : false")
        }
        #expect(settled, "the replicas never saw each other: \(lab.log("\(survivor).log"))")
        try await Task.sleep(for: .milliseconds(600))
        let before = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address, count: 4)
        #expect(before.replies == Array(repeating: Self.macs[owner]!.uppercased(), count: 4),
                "exactly one answer per request, from \(owner): \(before.output)")

        // Every ARP frame the client sees, with epoch timestamps, and a request every 50 ms, from a
        // client as patient as a browser: a connection attempt may take 3 s (a SYN retransmitted).
        try lab.start(client, ["tcpdump", "-i", "lan0", "-n", "-e", "-l", "-tt", "arp"], log: "arp.log")
        let loop = """
            while true; do
              body=$(curl -s --connect-timeout 3 -m 5 http://\(Self.address)/); echo "$(date +%s.%N) ${body:-FAILED}"; sleep 0.05
            done
            """
        try lab.start(client, ["bash", "-c", loop], log: "requests.log")
        let steady = try await NetnsLab.eventually(seconds: 10) { lab.log("requests.log").components(separatedBy: "\"name\":\"\(owner)\"").count > 10 }
        #expect(steady, "the loop never reached \(owner): \(lab.log("requests.log").suffix(500))")

        let killedAt = Date().timeIntervalSince1970
        kill(replicas[owner]!.processIdentifier, SIGKILL)
        let movedOver = try await NetnsLab.eventually(seconds: 15) {
            lab.log("requests.log").components(separatedBy: "\"name\":\"\(survivor)\"").count > 20
        }
        #expect(movedOver, "requests never reached \(survivor): \(lab.log("requests.log").suffix(800)) \(lab.log("\(survivor).log"))")

        let lines = lab.log("requests.log").split(separator: "\n").compactMap { line -> (time: Double, body: Substring)? in
            guard let space = line.firstIndex(of: " "), let time = Double(line[..<space]) else { return nil }
            return (time, line[line.index(after: space)...])
        }
        let afterKill = lines.filter { $0.time >= killedAt }
        let firstSurvivorAnswer = afterKill.first { $0.body.contains("\"name\":\"\(survivor)\"") }?.time
        // Each line is written when its request ended, so one in flight at the kill counts here too.
        let failed = afterKill.filter { $0.body.hasPrefix("FAILED") }.count
        let survivorMAC = Self.macs[survivor]!
        let firstARP = lab.log("arp.log").split(separator: "\n").compactMap { line -> Double? in
            guard let time = Double(line.prefix { $0 != " " }), time >= killedAt, line.contains(survivorMAC) else { return nil }
            return time
        }.first
        let failover = try #require(firstARP, "no ARP frame from \(survivor) after the kill: \(lab.log("arp.log").suffix(800))") - killedAt
        let requestGap = try #require(firstSurvivorAnswer) - killedAt
        print("layer-2 failover: first ARP from \(survivor) \(String(format: "%.2f", failover)) s after kill -9 of \(owner); "
              + "first request served by it after \(String(format: "%.2f", requestGap)) s; \(failed) of \(afterKill.count) requests failed")
        let timeline = "failover took \(failover) s (ARP), \(requestGap) s (requests); killed at \(killedAt); "
            + "requests: \(afterKill.prefix(12).map { "\($0.time) \($0.body.prefix(30))" }); ARP: \(lab.log("arp.log").suffix(1500))"
        #expect(failover < 1.5 && requestGap < 3, "\(timeline)")
        // A sequential loop has one request in flight at a time: the kill may fail that one (its
        // connection dies with the process), and no other.
        #expect(failed <= 1, "\(failed) requests failed: \(afterKill.prefix(40).map { "\($0.time) \($0.body.prefix(40))" })")

        let after = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address, count: 3)
        #expect(after.replies == Array(repeating: survivorMAC.uppercased(), count: 3), "after the failover: \(after.output)")

        // A clean shutdown stops answering and hands the membership Lease back at once.
        #expect(server.object(kind: "Lease", namespace: "archway-system", name: "archway-l2-\(survivor)") != nil)
        kill(replicas[survivor]!.processIdentifier, SIGTERM)
        let left = try await NetnsLab.eventually(seconds: 10) {
            server.object(kind: "Lease", namespace: "archway-system", name: "archway-l2-\(survivor)") == nil
        }
        #expect(left, "the Lease is still there after SIGTERM: \(lab.log("\(survivor).log").suffix(600))")
        let silent = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address, count: 2)
        #expect(silent.replies.isEmpty, "still answering while draining: \(silent.output)")
    }
}
