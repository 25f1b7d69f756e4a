// libFuzzer entry for the fast lane's byte path: one binary, linked as fuzz-request-head,
// fuzz-response-head and fuzz-chunked-body, picks its target by the name it was started as.
// Every property is FastLaneOracle's (Tests/DataPlaneTests/FastLaneOracle.swift), the same the
// test suite checks: a broken one stops the run with the input, as a crash.

let laneTarget = String(CommandLine.arguments.first?.split(separator: "/").last ?? "")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLane(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let problem: String?
    switch laneTarget {
    case "fuzz-request-head":
        problem = FastLaneOracle.checkRequest(bytes)
    case "fuzz-response-head":
        problem = FastLaneOracle.checkResponse(bytes, requestIsHEAD: false) ?? FastLaneOracle.checkResponse(bytes, requestIsHEAD: true)
    case "fuzz-chunked-body":
        problem = FastLaneOracle.checkChunked(bytes)
    default:
        fatalError("start this binary as fuzz-request-head, fuzz-response-head or fuzz-chunked-body, not \(laneTarget)")
    }
    if let problem {
        fatalError("\(laneTarget): \(problem)\ninput: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
    }
    return 0
}
