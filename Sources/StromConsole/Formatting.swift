import Foundation

/// Numbers as the console shows them: bytes in binary units, rates with SI prefixes.
enum Formatting {
    static func bytes(_ value: Int64?) -> String {
        guard let value else { return "–" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = Double(value)
        var unit = 0
        while scaled >= 1_024, unit < units.count - 1 {
            scaled /= 1_024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: scaled < 10 ? "%.1f" : "%.0f", scaled) + " " + units[unit]
    }

    /// `value` per second with k/M prefixes, then `unit` ("rec", "B").
    static func rate(_ value: Double, unit: String) -> String {
        let number: String = switch value {
        case ..<1_000: String(format: value < 10 ? "%.1f" : "%.0f", value)
        case ..<1_000_000: String(format: "%.1fk", value / 1_000)
        default: String(format: "%.1fM", value / 1_000_000)
        }
        return unit.isEmpty ? number : "\(number) \(unit)/s"
    }

    /// A record's time in UTC to the millisecond, e.g. 2026-12-07 20:41:05.123.
    static func timestamp(_ milliseconds: Int64) -> String {
        guard milliseconds >= 0 else { return "–" }
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%03d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0,
            parts.minute ?? 0, parts.second ?? 0, Int(milliseconds % 1_000))
    }

    /// Seconds as people read a lag: 850 ms, 12.3 s, 4 min 10 s, 2 h 5 min.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "–" }
        switch seconds {
        case ..<1: return String(format: "%.0f ms", seconds * 1_000)
        case ..<60: return String(format: "%.1f s", seconds)
        case ..<3_600: return "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
        default: return "\(Int(seconds) / 3_600) h \(Int(seconds) % 3_600 / 60) min"
        }
    }

    static func count(_ value: Int64?) -> String {
        value.map(String.init) ?? "–"
    }
}
