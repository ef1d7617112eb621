import Foundation

/// The machine-readable line every benchmark prints: `JSON {...}` with the run's parameters and
/// figures, fields in the order they were added (kbench's layout, so `../shared/bench/report.py`
/// style tools read both). Numbers with a fraction have three decimals, as kbench prints them.
struct BenchJSONLine: Sendable {
    private var fields: [String] = []

    mutating func string(_ key: String, _ value: String) {
        fields.append("\(Self.quoted(key)):\(Self.quoted(value))")
    }

    mutating func integer(_ key: String, _ value: Int) {
        fields.append("\(Self.quoted(key)):\(value)")
    }

    /// A non-finite value (a division by a zero time) becomes null rather than invalid JSON.
    mutating func number(_ key: String, _ value: Double) {
        fields.append("\(Self.quoted(key)):\(value.isFinite ? String(format: "%.3f", value) : "null")")
    }

    mutating func bool(_ key: String, _ value: Bool) {
        fields.append("\(Self.quoted(key)):\(value)")
    }

    /// `JSON {...}` and a newline.
    var line: String { "JSON {\(fields.joined(separator: ","))}\n" }

    private static func quoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case _ where scalar.value < 0x20: quoted += String(format: "\\u%04x", scalar.value)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
