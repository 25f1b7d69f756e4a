import NIOHTTP1

// The fuzz build compiles the scanners' files without the rest of DataPlane. RequestIdentity.swift
// names the event loop's context; the scanners do not use it, so this stand-in only lets that file
// compile.
final class EventLoopContext {
    func nextRandom() -> Int { fatalError("not used by the scanners") }
}
