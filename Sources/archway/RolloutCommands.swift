import ArchwayCore
import ArgumentParser
import Foundation

/// `archway rollout status|promote|pause|resume|abort`, against a running archway's admin endpoint.
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout", abstract: "Rollouts a running archway drives: where they stand, and promote, pause, resume or abort one.",
        subcommands: [Status.self, Act<Promote>.self, Act<Pause>.self, Act<Resume>.self, Act<Abort>.self])

    struct Endpoint: ParsableArguments {
        @Option(name: .long, help: "The running archway's admin endpoint (in a cluster: kubectl port-forward to the leader, or --token-file).")
        var admin = HostPort(argument: "127.0.0.1:9901")!

        @Option(name: .long, help: "A file holding the admin token (serve --admin-token-file), for calls that do not come from loopback.")
        var tokenFile: String?

        func token() throws -> String? {
            guard let tokenFile else { return nil }
            do {
                return try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ValidationError("--token-file \(tokenFile): \(error.localizedDescription)")
            }
        }
    }

    /// NAMESPACE/NAME, or NAME in namespace `default`.
    static func namespacedName(_ text: String) -> (namespace: String, name: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : ("default", text)
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where each Rollout stands: phase, step, the canary's share, and why.")

        @OptionGroup var endpoint: Endpoint

        @Argument(help: "One Rollout (NAMESPACE/NAME or NAME); default: all.")
        var rollout: String?

        func run() async throws {
            let data = try await AdminReader.get(host: endpoint.admin.host, port: endpoint.admin.port, path: "/status")
            let items = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["items"] as? [[String: Any]] ?? []
            let wanted = rollout.map(RolloutCommand.namespacedName)
            var rows = 0
            for item in items where item["kind"] as? String == "Rollout" {
                let metadata = item["metadata"] as? [String: Any] ?? [:]
                let namespace = metadata["namespace"] as? String ?? "default", name = metadata["name"] as? String ?? ""
                if let wanted, wanted != (namespace, name) { continue }
                let status = item["status"] as? [String: Any] ?? [:]
                let progress = status["progress"] as? [String: Any]
                let accepted = (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
                let phase = accepted?["status"] as? String == "False" ? "NotAccepted" : progress?["phase"] as? String ?? "Waiting"
                let step = (progress?["step"] as? Int).map { "\($0 + 1)" } ?? "-"
                print("\(namespace)/\(name)  \(phase)  step \(step)  canary \(status["canaryWeight"] as? Int ?? 0)%")
                for line in [accepted?["message"] as? String, progress?["message"] as? String, status["message"] as? String].compactMap({ $0 }) {
                    print("    \(line)")
                }
                rows += 1
            }
            if rows == 0 { throw ValidationError(rollout.map { "no Rollout \($0)" } ?? "no Rollouts") }
        }
    }

    protocol Verb {
        static var name: String { get }
        static var abstract: String { get }
    }
    enum Promote: Verb { static let name = "promote"; static let abstract = "Send all of the rule's traffic to the canary now." }
    enum Pause: Verb { static let name = "pause"; static let abstract = "Hold the Rollout on its step until resume." }
    enum Resume: Verb { static let name = "resume"; static let abstract = "Go on after a pause; after a rollback or abort, start again from the first step." }
    enum Abort: Verb { static let name = "abort"; static let abstract = "Stop: all of the rule's traffic back to stable." }

    struct Act<V: Verb>: AsyncParsableCommand {
        static var configuration: CommandConfiguration { CommandConfiguration(commandName: V.name, abstract: V.abstract) }

        @OptionGroup var endpoint: Endpoint

        @Argument(help: "The Rollout: NAMESPACE/NAME or NAME (namespace default).")
        var rollout: String

        func run() async throws {
            let (namespace, name) = RolloutCommand.namespacedName(rollout)
            let answer = try await AdminReader.post(host: endpoint.admin.host, port: endpoint.admin.port,
                                                    path: "/rollouts/\(namespace)/\(name)/\(V.name)", token: try endpoint.token())
            guard answer.status == 200 else {
                let message = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["error"] as? String ?? answer.body
                FileHandle.standardError.write(Data("archway rollout \(V.name) \(namespace)/\(name): HTTP \(answer.status): \(message.trimmingCharacters(in: .whitespacesAndNewlines))\n".utf8))
                throw ExitCode(1)
            }
            print(answer.body, terminator: "")
        }
    }
}
