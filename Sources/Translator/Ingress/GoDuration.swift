/// Durations as Go's time.ParseDuration reads them, which is how Cilium and Traefik read theirs.
public enum GoDuration {
    /// A Go duration ("1h2m", "1.5s", "300ms") in whole milliseconds; nil when it is not one.
    public static func millis(_ text: String) -> Int? {
        let units: [(String, Double)] = [("ns", 1e-6), ("us", 1e-3), ("µs", 1e-3), ("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let amount = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // "ms" before "m": the longest unit that fits.
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += amount * unit.1
        }
        return Int(total.rounded())
    }
}
