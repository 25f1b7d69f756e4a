import Foundation
import NIOCore
import Testing

/// Bodies stream through the gateway in both directions without being held whole.
@Suite(.timeLimit(.minutes(3)))
struct StreamingTests {
    static func residentMiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    @Test func largeBodiesBothWays() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let client = try await harness.client()
        let before = Self.residentMiB()

        // 512 MiB up with Content-Length, then 64 MiB up chunked, then 512 MiB down.
        let upload = try await client.request(.PUT, "/upload", host: "big.example.com", bodyChunks: 512, chunkSize: 1 << 20)
        #expect(upload.status == 200)
        #expect(upload.echo["body_bytes"] as? Int == 512 << 20)
        let chunked = try await client.request(.POST, "/chunked", host: "big.example.com", bodyChunks: 64, chunkSize: 1 << 20, chunked: true)
        #expect(chunked.echo["body_bytes"] as? Int == 64 << 20)
        let download = try await client.request(.GET, "/__echo/bytes/\(512 << 20)", host: "big.example.com", keepBody: false)
        #expect(download.status == 200 && download.bodyBytes == 512 << 20)
        await client.close()

        // Client, gateway and backend share this process: had any of them held a body whole, the
        // resident size would have grown by at least 512 MiB.
        let growth = Self.residentMiB() - before
        #expect(growth < 200, "resident memory grew by \(growth) MiB while streaming 1 GiB")
    }
}
