import Foundation
import Glibc
import Testing

/// `archway serve --announce` as a LAN sees it, in network namespaces this suite makes: a client
/// namespace and a node namespace joined by a veth pair; the real binary runs in the node namespace,
/// and the client asks with arping, ndisc6 and curl.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: NetnsLab.available))
struct L2AnnounceNetnsTests {
    static let clientMAC = "02:a1:00:00:00:01"
    static let nodeMAC = "02:a1:00:00:00:02"
    static let address4 = "10.99.0.100"
    static let address6 = "fd00:99::100"

    /// A Gateway on port 80 with both addresses, route / to the echo backend on 127.0.0.1:18080.
    /// Only pool addresses are announced: the pool holds them (and 192.0.2.10, asked for below).
    static let config = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: AddressPool
        metadata: {name: announced}
        spec: {addresses: [\(address4)/32, "\(address6)/128", 192.0.2.10/32], autoAssign: false}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: lan, namespace: default}
        spec:
          gatewayClassName: archway
          addresses: [{type: IPAddress, value: \(address4)}, {type: IPAddress, value: "\(address6)"}]
          listeners: [{name: http, protocol: HTTP, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r, namespace: default}
        spec:
          parentRefs: [{name: lan}]
          rules:
          - backendRefs: [{name: echo, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /moved}}]
            filters: [{type: RequestRedirect, requestRedirect: {hostname: elsewhere.example, statusCode: 302}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: default}
        spec: {ports: [{name: http, port: 80, targetPort: 18080}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}
        addressType: IPv4
        ports: [{name: http, port: 18080}]
        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
        """

    /// The client and node namespaces, linked, with the node's own addresses on its LAN side.
    static func lan(_ lab: NetnsLab) throws -> (client: String, node: String) {
        let client = try lab.namespace("client"), node = try lab.namespace("node")
        try lab.link((client, "lan0", clientMAC, ["10.99.0.1/24", "fd00:99::1/64"]), (node, "lan0", nodeMAC, ["10.99.0.2/24", "fd00:99::2/64"]))
        return (client, node)
    }

    /// The echo backend and `archway serve` in the node namespace; returns once /readyz answers.
    /// A Gateway's own addresses get sockets of their own (IP_FREEBIND: they may bind before the
    /// announcer holds the address); Gateways without one share the wildcard `::`.
    static func serve(_ lab: NetnsLab, node: String, wrapper: [String] = [], flags: [String] = ["--announce"],
                      config: String = config) async throws -> Process {
        let configPath = lab.directory.appendingPathComponent("gateway.yaml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        try lab.start(node, [CLITests.binary, "echo", "node=127.0.0.1:18080"], log: "echo.log")
        let archway = try lab.start(node, wrapper + [CLITests.binary, "serve", "--config", configPath, "--threads", "1",
                                                     "--bind-address", "::", "--ingress-http-port", "0"] + flags, log: "archway.log")
        let ready = try await NetnsLab.eventually(seconds: 20) {
            try lab.run(node, "curl", ["-s", "-m", "1", "http://127.0.0.1:9901/readyz"]).stdout == "ready\n"
        }
        #expect(ready, "archway never became ready: \(lab.log("archway.log"))")
        return archway
    }

    @Test func theClientReachesTheGatewayAddressesThroughTheNodesAnswers() async throws {
        let lab = try NetnsLab(tag: "one")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        // A gratuitous ARP for the address, from the node's MAC, before anyone asked for it.
        let filter = "arp and arp[6:2] = 1 and arp[14:4] = 0x0a630064 and arp[24:4] = 0x0a630064"
        let garp = try lab.start(client, ["timeout", "20", "tcpdump", "-i", "lan0", "-n", "-e", "-l", "-c", "1", filter], log: "garp.log")
        #expect(try await NetnsLab.eventually(seconds: 5) { lab.log("garp.log").contains("listening on") })
        _ = try await Self.serve(lab, node: node)

        #expect(try await NetnsLab.eventually(seconds: 5) { !garp.isRunning }, "no gratuitous ARP: \(lab.log("garp.log"))")
        #expect(garp.terminationStatus == 0 && lab.log("garp.log").contains(Self.nodeMAC), "\(lab.log("garp.log"))")

        let (replies, output) = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address4, count: 3)
        #expect(replies == Array(repeating: Self.nodeMAC.uppercased(), count: 3), "one answer per request, from the node: \(output)")

        let page = try lab.run(client, "curl", ["-s", "-m", "5", "http://\(Self.address4)/"])
        #expect(page.stdout.contains("\"name\":\"node\""), "curl: \(page.stdout) \(page.stderr)")

        let solicitation = try await lab.runOffThePool(client, "ndisc6", ["-1", "-w", "1000", Self.address6, "lan0"])
        #expect(solicitation.stdout.contains("Target link-layer address: \(Self.nodeMAC.uppercased())"), "ndisc6: \(solicitation.stdout) \(solicitation.stderr)")
        let page6 = try lab.run(client, "curl", ["-s", "-m", "5", "-g", "http://[\(Self.address6)]/"])
        #expect(page6.stdout.contains("\"name\":\"node\""), "curl over IPv6: \(page6.stdout) \(page6.stderr)")
        let neighbours = try lab.run(client, "ip", ["-6", "neigh", "show", Self.address6, "dev", "lan0"])
        #expect(neighbours.stdout.contains("lladdr \(Self.nodeMAC)"), "\(neighbours.stdout)")

        let announcements = try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/announcements"]).stdout
        let entries = try #require((try JSONSerialization.jsonObject(with: Data(announcements.utf8)) as? [String: Any])?["addresses"] as? [[String: Any]])
        #expect(entries.count == 2 && entries.allSatisfy { $0["announcedHere"] as? Bool == true && $0["interface"] as? String == "lan0" }, "\(announcements)")
        let status = try lab.run(node, CLITests.binary, ["status", "--admin", "127.0.0.1:9901"]).stdout
        #expect(status.contains("LAYER-2 ANNOUNCEMENT") && status.split(separator: "\n").contains { let words = $0.split(separator: " "); return words.first == "10.99.0.100" && words.suffix(2) == ["yes", "lan0"] },
                "\(status)")
        let metrics = try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/metrics"]).stdout
        #expect(metrics.contains("archway_l2_announced_addresses 2"), "\(metrics.split(separator: "\n").filter { $0.contains("l2") })")
        let sysctl = try lab.run(node, "sysctl", ["-n", "net.ipv4.conf.lan0.arp_ignore", "net.ipv4.conf.lan0.arp_announce"]).stdout
        #expect(sysctl == "1\n2\n", "\(sysctl)")
    }

    /// The playbook's bare-metal step with archway alone: an AddressPool on the LAN's subnet, two
    /// Gateways on port 80 that ask for no address, and a LoadBalancer Service of archway's class.
    /// Each Gateway gets an address of its own from the pool and serves its own route there, the
    /// Service gets its EXTERNAL-IP, and a client on the LAN finds all three by ARP at the node.
    @Test func poolAddressesAreAnnouncedAndEachGatewayServesItsOwnRoutes() async throws {
        let lab = try NetnsLab(tag: "pool")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        var documents = ["""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: AddressPool
            metadata: {name: lan}
            spec: {addresses: [10.99.0.200-10.99.0.210]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {type: LoadBalancer, loadBalancerClass: archway.dev/load-balancer, ports: [{port: 80}]}
            """]
        for colour in ["blue", "green"] {
            documents.append("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: \(colour), namespace: default}
                spec:
                  gatewayClassName: archway
                  listeners: [{name: http, protocol: HTTP, port: 80}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: \(colour), namespace: default}
                spec:
                  parentRefs: [{name: \(colour)}]
                  rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: \(colour).example, statusCode: 302}}]}]
                """)
        }
        _ = try await Self.serve(lab, node: node, config: documents.joined(separator: "\n---\n"))
        let status = try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/status"]).stdout
        let items = (try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        func address(_ kind: String, _ name: String) -> String? {
            let item = items.first { $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name }
            let status = item?["status"] as? [String: Any]
            if kind == "Service" { return (((status?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]])?.first?["ip"] as? String) }
            return (status?["addresses"] as? [[String: Any]])?.first?["value"] as? String
        }
        let blue = try #require(address("Gateway", "blue")), green = try #require(address("Gateway", "green"))
        let web = try #require(address("Service", "web"))
        #expect(Set([blue, green, web]).count == 3 && [blue, green, web].allSatisfy { $0.hasPrefix("10.99.0.2") }, "\(blue) \(green) \(web)")
        for (colour, address) in [("blue", blue), ("green", green)] {
            let page = try lab.run(client, "curl", ["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://\(address)/"])
            #expect(page.stdout == "302 http://\(colour).example/", "\(colour) on \(address): \(page.stdout) \(page.stderr)")
        }
        let (replies, output) = try await lab.arpingReplies(from: client, interface: "lan0", to: web, count: 2)
        #expect(replies == Array(repeating: Self.nodeMAC.uppercased(), count: 2), "the Service's EXTERNAL-IP is announced: \(output)")

        // The dashboard (headless Chromium in the node's namespace) shows who announces what.
        guard let browser = DashboardTests.chromium else { return }
        let dom = try lab.run(node, browser, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                                              "--dump-dom", "http://127.0.0.1:9901/dashboard"]).stdout
        for address in [blue, green, web] {
            let start = try #require(dom.range(of: "<tr data-announced=\"\(address)\">"), "the dashboard's announcement row for \(address)")
            let row = dom[start.lowerBound...].prefix { $0 != "\n" }.split(separator: "</tr>").first.map(String.init) ?? ""
            #expect(row.contains("<td>yes</td><td>lan0</td>"), "\(row)")
        }
        #expect(dom.contains("Gateway default/blue @ \(blue)"), "the Gateway's box shows its address")
    }

    /// A run killed with -9 takes its addresses with it: they are held on its own TUN device, which
    /// the kernel deletes with the process. The node then neither accepts nor refuses packets for
    /// them, so a client's connection attempt is not reset (a failed request) but left unanswered,
    /// and its retransmission can reach whichever replica took the address over.
    @Test func aKilledRunTakesItsAddressesWithIt() async throws {
        let lab = try NetnsLab(tag: "gone")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        let archway = try await Self.serve(lab, node: node)
        let held = try lab.run(node, "ip", ["-o", "addr", "show"]).stdout.split(separator: "\n").filter { $0.contains(Self.address4 + "/32") }
        #expect(held.count == 1 && held.first?.contains(" archway0 ") == true, "held on archway's own device, not lo: \(held)")
        let page = try lab.run(client, "curl", ["-s", "-m", "5", "http://\(Self.address4)/"])
        #expect(page.stdout.contains("\"name\":\"node\""), "curl: \(page.stdout) \(page.stderr)")

        kill(archway.processIdentifier, SIGKILL)
        archway.waitUntilExit()
        let gone = try await NetnsLab.eventually(seconds: 2) {
            !(try lab.run(node, "ip", ["-o", "addr", "show"]).stdout.contains(Self.address4))
        }
        let remaining = try lab.run(node, "ip", ["-o", "addr", "show"]).stdout
        #expect(gone, "the address outlived the process: \(remaining)")
        // The client still has the node's MAC for the address: its SYN arrives and is dropped, not
        // refused. curl says 28 (timed out), where a RST would make it 7 (could not connect).
        let attempt = try lab.run(client, "curl", ["-s", "--connect-timeout", "1", "http://\(Self.address4)/"])
        #expect(attempt.status == 28, "curl exited \(attempt.status): \(attempt.stderr)")
    }

    /// Without a TUN device (no /dev/net/tun in the container) the addresses are held on lo, tagged
    /// with archway's IFA_PROTO, and it says what that costs. A run killed with -9 leaves them there;
    /// the next start removes the tagged ones, and leaves the node's own addresses on lo alone.
    @Test func withoutATunDeviceAddressesGoOnLoAndTheNextStartRemovesLeftovers() async throws {
        let lab = try NetnsLab(tag: "left")
        defer { lab.tearDown() }
        let (_, node) = try Self.lan(lab)
        try lab.ip(["-n", node, "addr", "add", "10.99.0.151/32", "dev", "lo"])  // the node's own
        let hidingTheTunDevice = ["unshare", "--mount", "sh", "-c", "mount -t tmpfs none /dev/net && exec \"$0\" \"$@\""]
        let first = try await Self.serve(lab, node: node, wrapper: hidingTheTunDevice)
        #expect(lab.log("archway.log").contains("no TUN device"), "\(lab.log("archway.log"))")
        #expect(try lab.run(node, "ip", ["addr", "show", "dev", "lo"]).stdout.contains("\(Self.address4)/32"), "held on lo")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(try lab.run(node, "ip", ["addr", "show", "dev", "lo"]).stdout.contains("\(Self.address4)/32"), "left behind by the killed run")

        // The next run holds what it serves on its own device: every tagged address on lo goes.
        _ = try await Self.serve(lab, node: node)
        let swept = try await NetnsLab.eventually(seconds: 5) {
            !(try lab.run(node, "ip", ["addr", "show", "dev", "lo"]).stdout.contains("\(Self.address4)/32"))
        }
        let lo = try lab.run(node, "ip", ["addr", "show", "dev", "lo"]).stdout
        #expect(swept && !lo.contains("\(Self.address6)/128"), "the leftovers are gone: \(lo)")
        #expect(lo.contains("10.99.0.151/32"), "the node's own address stays: \(lo)")
        #expect(try lab.run(node, "ip", ["addr", "show", "dev", "archway0"]).stdout.contains("\(Self.address4)/32"))
    }

    /// The kernel facts the design stands on, with no archway at all: an address on lo is answered by
    /// Linux's ARP on every interface until arp_ignore=1, and never by its neighbour discovery.
    @Test func linuxAnswersARPButNotNDPForAnAddressOnLoUntilArpIgnore() async throws {
        let lab = try NetnsLab(tag: "kern")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        try lab.ip(["-n", node, "addr", "add", "\(Self.address4)/32", "dev", "lo"])
        try lab.ip(["-n", node, "addr", "add", "\(Self.address6)/128", "dev", "lo"])
        _ = try lab.run(node, "sysctl", ["-w", "net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.lan0.arp_ignore=0"])
        let weak = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address4, count: 2)
        #expect(weak.replies.count == 2, "Linux's weak-host ARP answers for lo's address: \(weak.output)")
        let solicitation = try await lab.runOffThePool(client, "ndisc6", ["-1", "-r", "2", "-w", "500", Self.address6, "lan0"])
        #expect(!solicitation.stdout.contains("Target link-layer address"), "the kernel's NDP answered for lo's address: \(solicitation.stdout)")
        _ = try lab.run(node, "sysctl", ["-w", "net.ipv4.conf.lan0.arp_ignore=1"])
        let strict = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address4, count: 2)
        #expect(strict.replies.isEmpty, "arp_ignore=1 still answered: \(strict.output)")
    }

    @Test func withoutTheCapabilitiesItWarnsOnceAndKeepsServing() async throws {
        let lab = try NetnsLab(tag: "caps")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        // Beside the Gateway with addresses of its own, one without: it shares the default address,
        // which needs no capability, and proxies to the echo backend.
        let local = """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: local, namespace: default}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, protocol: HTTP, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: local, namespace: default}
            spec:
              parentRefs: [{name: local}]
              rules: [{backendRefs: [{name: echo, port: 80}]}]
            """
        _ = try await Self.serve(lab, node: node, wrapper: ["capsh", "--drop=cap_net_raw,cap_net_admin", "--", "-c", "exec \"$0\" \"$@\""],
                                 config: Self.config + "\n" + local)
        // Proxied, without CAP_NET_ADMIN: backend connections ask for no privileged socket option.
        let page = try lab.run(node, "curl", ["-s", "-m", "5", "http://127.0.0.1/"])
        #expect(page.stdout.contains("\"name\":\"node\""), "still serves what needs no announcement: \(page.stdout) \(page.stderr)")
        // Further configuration changes do not repeat the warning.
        try Self.config.replacingOccurrences(of: "name: r,", with: "name: r2,")
            .write(toFile: lab.directory.appendingPathComponent("gateway.yaml").path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .seconds(2))
        let log = lab.log("archway.log")
        let warnings = log.split(separator: "\n").filter { $0.contains("layer-2 announcement is off") }
        #expect(warnings.count == 1, "\(log)")
        #expect(warnings.first.map { $0.contains("CAP_NET_ADMIN") && $0.contains("CAP_NET_RAW") && $0.contains(Self.address4) } == true, "\(warnings)")
        let (replies, _) = try await lab.arpingReplies(from: client, interface: "lan0", to: Self.address4, count: 2)
        #expect(replies.isEmpty)
        let announcements = try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/announcements"]).stdout
        #expect(announcements.contains("missing CAP_NET_ADMIN and CAP_NET_RAW"), "\(announcements)")
        // The node could not take the pool addresses, so nothing reaches them: the Gateway does not
        // claim them in its status, and its Programmed condition says why.
        let status = try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/status"]).stdout
        let lan = try #require(status.range(of: "\"name\" : \"lan\"").map { String(status[$0.lowerBound...].prefix(3000)) }, "\(status.prefix(400))")
        #expect(lan.contains("AddressNotUsable") && lan.contains("\(Self.address4) is not on this node (missing CAP_NET_ADMIN and CAP_NET_RAW)"), "\(lan)")
    }

    /// An address outside every network of the node: announced on the interface named, and given back
    /// (no longer held, no more answers) when the Gateway stops asking for it.
    @Test func anAddressOutsideTheSubnetsIsAnnouncedOnTheNamedInterfaceAndWithdrawn() async throws {
        let lab = try NetnsLab(tag: "named")
        defer { lab.tearDown() }
        let (client, node) = try Self.lan(lab)
        try lab.ip(["-n", client, "route", "add", "192.0.2.10/32", "dev", "lan0"])
        let config = Self.config.replacingOccurrences(of: "[{type: IPAddress, value: \(Self.address4)}, {type: IPAddress, value: \"\(Self.address6)\"}]",
                                                      with: "[{type: IPAddress, value: 192.0.2.10}]")
        _ = try await Self.serve(lab, node: node, flags: ["--announce-interface", "lan0"], config: config)
        let (replies, output) = try await lab.arpingReplies(from: client, interface: "lan0", to: "192.0.2.10", count: 2)
        #expect(replies == Array(repeating: Self.nodeMAC.uppercased(), count: 2), "\(output)")
        let page = try lab.run(client, "curl", ["-s", "-m", "5", "http://192.0.2.10/"])
        #expect(page.stdout.contains("\"name\":\"node\""), "curl: \(page.stdout) \(page.stderr)")
        #expect(try lab.run(node, "ip", ["addr", "show", "dev", "archway0"]).stdout.contains("inet 192.0.2.10/32"))

        // The Gateway no longer asks for an address (it reports the default, 127.0.0.1, never announced).
        try config.replacingOccurrences(of: "  addresses: [{type: IPAddress, value: 192.0.2.10}]\n", with: "")
            .write(toFile: lab.directory.appendingPathComponent("gateway.yaml").path, atomically: true, encoding: .utf8)
        let withdrawn = try await NetnsLab.eventually(seconds: 10) {
            !(try lab.run(node, "ip", ["-o", "addr", "show"]).stdout.contains("192.0.2.10"))
        }
        #expect(withdrawn, "still held: \(lab.log("archway.log"))")
        let after = try await lab.arpingReplies(from: client, interface: "lan0", to: "192.0.2.10", count: 2)
        #expect(after.replies.isEmpty, "\(after.output)")
        #expect(try lab.run(node, "curl", ["-s", "http://127.0.0.1:9901/metrics"]).stdout.contains("archway_l2_announced_addresses 0"))
    }
}
