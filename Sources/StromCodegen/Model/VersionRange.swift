/// A set of protocol versions as Kafka's JSON writes it: "3", "0-4", "2+" or "none".
struct VersionRange: Equatable, CustomStringConvertible {
    /// Lowest version in the range; nil when the range is empty ("none").
    let lowest: Int16?
    /// Highest version, nil when the range is open ("2+").
    let highest: Int16?

    static let none = VersionRange(lowest: nil, highest: nil)
    static let all = VersionRange(lowest: 0, highest: nil)

    init(lowest: Int16?, highest: Int16?) {
        self.lowest = lowest
        self.highest = highest
    }

    init(parsing text: String) throws(SpecError) {
        let trimmed = text.trimmingWhitespace()
        if trimmed == "none" {
            self = .none
        } else if trimmed.hasSuffix("+") {
            guard let low = Int16(trimmed.dropLast()) else { throw SpecError("bad version range '\(text)'") }
            self.init(lowest: low, highest: nil)
        } else if let dash = trimmed.firstIndex(of: "-") {
            guard let low = Int16(trimmed[..<dash]), let high = Int16(trimmed[trimmed.index(after: dash)...]), low <= high
            else { throw SpecError("bad version range '\(text)'") }
            self.init(lowest: low, highest: high)
        } else {
            guard let only = Int16(trimmed) else { throw SpecError("bad version range '\(text)'") }
            self.init(lowest: only, highest: only)
        }
    }

    var isEmpty: Bool { lowest == nil }

    func contains(_ version: Int16) -> Bool {
        guard let lowest else { return false }
        return version >= lowest && (highest.map { version <= $0 } ?? true)
    }

    /// True when every version in `range` (bounded above by `limit`) is in this range.
    func covers(_ range: VersionRange, upTo limit: Int16) -> Bool {
        guard let low = range.lowest else { return true }
        let high = range.highest ?? limit
        guard low <= high else { return true }
        return (low...high).allSatisfy(contains)
    }

    func intersection(_ other: VersionRange) -> VersionRange {
        guard let a = lowest, let b = other.lowest else { return .none }
        let low = max(a, b)
        let high: Int16? = switch (highest, other.highest) {
        case let (x?, y?): min(x, y)
        case let (x?, nil): x
        case let (nil, y?): y
        case (nil, nil): nil
        }
        if let high, high < low { return .none }
        return VersionRange(lowest: low, highest: high)
    }

    var description: String {
        guard let lowest else { return "none" }
        guard let highest else { return "\(lowest)+" }
        return lowest == highest ? "\(lowest)" : "\(lowest)-\(highest)"
    }

    /// A Swift boolean expression over `version` that is true exactly within this range,
    /// simplified against the versions the enclosing message can have at all.
    func swiftCondition(variable: String = "version", within valid: VersionRange) -> String {
        guard let lowest else { return "false" }
        var parts: [String] = []
        if lowest > (valid.lowest ?? 0) { parts.append("\(variable) >= \(lowest)") }
        if let highest, highest < (valid.highest ?? Int16.max) { parts.append("\(variable) <= \(highest)") }
        return parts.isEmpty ? "true" : parts.joined(separator: " && ")
    }
}

struct SpecError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
