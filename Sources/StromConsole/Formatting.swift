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
        return "\(number) \(unit)/s"
    }

    static func count(_ value: Int64?) -> String {
        value.map(String.init) ?? "–"
    }
}
