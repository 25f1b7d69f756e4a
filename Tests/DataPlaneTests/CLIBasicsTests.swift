import Foundation
import Testing

/// What a new user tries first: `--version` and `version` (with the commit the binary was really built
/// from), the same build on `/metrics` and the dashboard, bash completion, and the README's exit codes.
@Suite(.timeLimit(.minutes(2)))
struct CLIBasicsTests {
    struct Build: Decodable, Equatable {
        var version: String
        var commit: String
        var swift: String
    }

    /// The binary's own account of itself, from `archway version -o json`.
    static func build() throws -> Build {
        let json = try ExternalTool.run(CLITests.binary, ["version", "-o", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        return try JSONDecoder().decode(Build.self, from: Data(json.stdout.utf8))
    }

    @Test func versionFlagAndSubcommandPrintTheSameLine() throws {
        let flag = try ExternalTool.run(CLITests.binary, ["--version"])
        let command = try ExternalTool.run(CLITests.binary, ["version"])
        #expect(flag.status == 0 && command.status == 0, "\(flag.stderr) \(command.stderr)")
        #expect(flag.stdout == command.stdout, "--version: \(flag.stdout) version: \(command.stdout)")
        let build = try Self.build()
        #expect(flag.stdout == "archway \(build.version) (commit \(build.commit), Swift \(build.swift))\n", "\(flag.stdout)")
        #expect(build.version.split(separator: ".").count == 3 && build.version.split(separator: ".").allSatisfy { Int($0) != nil }, "\(build.version)")
        #expect(build.swift.split(separator: ".").count >= 2 && build.swift.split(separator: ".").allSatisfy { Int($0) != nil }, "\(build.swift)")
    }

    /// The commit is the checkout's HEAD (the binary must be built from it: `swift build` first), with
    /// "-dirty" when tracked files differed; from a tarball, "unknown".
    @Test func theCommitIsTheOneTheBinaryWasBuiltFrom() throws {
        let commit = try Self.build().commit
        guard FileManager.default.fileExists(atPath: CLITests.repository.appendingPathComponent(".git").path) else {
            #expect(commit == (ProcessInfo.processInfo.environment["ARCHWAY_COMMIT"] ?? "unknown"), "no .git here, yet commit \(commit)")
            return
        }
        let head = try ExternalTool.run("git", ["-C", CLITests.repository.path, "rev-parse", "--short=12", "HEAD"])
        let hash = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(head.status == 0 && hash.count >= 12, "\(head.stderr)")
        #expect(commit == hash || commit == hash + "-dirty", "binary says \(commit), HEAD is \(hash): rebuild after committing")
    }

    /// One series, value 1, with the same labels the binary prints; and the dashboard's header names them.
    @Test func metricsAndDashboardNameTheBuild() async throws {
        let build = try Self.build()
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let samples = try await MetricsTests.scrape(harness)
        let series = #"archway_build_info{version="\#(build.version)",commit="\#(build.commit)",swift="\#(build.swift)"}"#
        #expect(samples[series] == 1, "\(samples.keys.filter { $0.hasPrefix("archway_build_info") })")
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        defer { Task { await admin.close() } }
        let page = try await admin.request(.GET, "/dashboard", host: "admin").text
        let header = try #require(page.range(of: "<header>").flatMap { start in page.range(of: "</header>").map { page[start.lowerBound..<$0.upperBound] } })
        #expect(header.contains("\(build.version) · commit \(build.commit)"), "\(header)")
    }

    /// The generated bash script registers a completion for `archway` that offers the subcommands, and
    /// a subcommand's flags; bash runs the script as a user's shell would source it.
    @Test func bashCompletesSubcommandsAndFlags() throws {
        let script = #"""
            source <("$1" --generate-completion-script bash) || exit 2
            spec=$(complete -p archway) || exit 3
            echo "spec: $spec"
            function=$(printf '%s\n' "$spec" | sed -n 's/.*-F \([^ ]*\).*/\1/p')
            complete_line() {
                COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
                read -ra COMP_WORDS <<< "$COMP_LINE"
                [ "${COMP_LINE: -1}" = " " ] && COMP_WORDS+=("")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
                "$function" archway "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                printf '%s: %s\n' "$2" "${COMPREPLY[*]}"
            }
            complete_line "archway " subcommands
            complete_line "archway serve --adm" serve
            """#
        let run = try ExternalTool.run("bash", ["-c", script, "bash", CLITests.binary])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first { $0.hasPrefix("spec: complete ") && $0.hasSuffix(" archway") } != nil, "\(run.stdout)")
        let subcommands = Set((lines.first { $0.hasPrefix("subcommands: ") } ?? "").split(separator: " ").dropFirst().map(String.init))
        #expect(subcommands.isSuperset(of: ["serve", "status", "check", "migrate", "version"]), "\(run.stdout) \(run.stderr)")
        let serveFlags = Set((lines.first { $0.hasPrefix("serve: ") } ?? "").split(separator: " ").dropFirst().map(String.init))
        #expect(serveFlags == ["--admin", "--admin-token-file"], "\(run.stdout) \(run.stderr)")
        for shell in ["zsh", "fish"] {
            let other = try ExternalTool.run(CLITests.binary, ["--generate-completion-script", shell])
            #expect(other.status == 0 && other.stdout.contains("archway") && other.stdout.contains("serve"), "\(shell): \(other.stderr)")
        }
    }

    /// The README's exit-code table, case by case.
    @Test func exitCodesAreTheDocumentedOnes() throws {
        let examples = CLITests.repository.appendingPathComponent("examples")
        let cases: [(arguments: [String], status: Int32, output: String)] = [
            (["check", "--config", examples.appendingPathComponent("playbook").path], 0, "ok: every resource is valid and accepted"),
            (["check", "--config", examples.appendingPathComponent("broken").path], 1, "ResolvedRefs=False RefNotPermitted"),
            (["status", "--admin", "127.0.0.1:1"], 1, "is `archway serve` running with --admin 127.0.0.1:1?"),
            (["check"], 64, "at least one --config PATH is required"),
            (["--no-such-flag"], 64, "Unknown option '--no-such-flag'"),
            (["serve", "--config", "/nonexistent", "--header-timeout", "0"], 64, "--header-timeout and --idle-timeout must be above 0"),
        ]
        for (arguments, status, output) in cases {
            let run = try ExternalTool.run(CLITests.binary, arguments)
            #expect(run.status == status && (run.stdout + run.stderr).contains(output),
                    "archway \(arguments.joined(separator: " ")): exit \(run.status), \(run.stdout.prefix(500)) \(run.stderr.prefix(500))")
        }
    }
}
