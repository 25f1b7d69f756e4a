extension Substring {
    /// Spaces and tabs off both ends, without Foundation's UTF-16 round trip (this runs per request).
    public func trimmingSpaces() -> Substring {
        var view = self
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return view
    }
}
