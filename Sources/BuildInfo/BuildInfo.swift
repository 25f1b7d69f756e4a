/// What this binary is: archway's version, the commit it was built from and the Swift compiler that
/// built it. `archway --version`, `archway version`, `/metrics` (`archway_build_info`) and the
/// dashboard's header all show this one value.
public struct BuildInfo: Sendable, Codable, Equatable {
    /// Bumped by hand when a release is cut; between releases the commit tells builds apart.
    public static let releaseVersion = "0.26.0"

    /// The commit and compiler come from `BuildInfoGenerated.swift`, which Plugins/BuildInfoPlugin
    /// writes before each build (commit "unknown" outside a git checkout).
    public static let current = BuildInfo(version: releaseVersion, commit: generatedCommit, swift: generatedSwiftVersion)

    public var version: String
    /// 12 hex digits, "-dirty" appended when tracked files differed from the commit, or "unknown".
    public var commit: String
    public var swift: String

    public init(version: String, commit: String, swift: String) {
        (self.version, self.commit, self.swift) = (version, commit, swift)
    }

    /// The line `archway --version` and `archway version` print.
    public var line: String { "archway \(version) (commit \(commit), Swift \(swift))" }
}
