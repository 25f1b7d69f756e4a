import ArgumentParser
import BuildInfo
import Foundation

/// `archway version`: the line `archway --version` prints, or the same facts as JSON for scripts.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print archway's version, the commit it was built from and its Swift compiler.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(name: .shortAndLong, help: "text or json.")
    var output = Format.text

    func run() throws {
        switch output {
        case .text: print(BuildInfo.current.line)
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(BuildInfo.current), as: UTF8.self))
        }
    }
}
