import NIOHTTP1

// The fuzz build compiles the scanners' files without the rest of DataPlane. RequestIdentity.swift
// names the event loop's context and HeaderRules.swift a version test from ProxyHandler.swift; the
// scanners use neither, so these stand-ins only let those two files compile.
final class EventLoopContext {
    func nextRandom() -> Int { fatalError("not used by the scanners") }
}

extension HTTPVersion {
    var isHTTP10OrOlder: Bool { major < 1 || (major == 1 && minor == 0) }
}
