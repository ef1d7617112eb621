/// Swift spellings of Kafka's JSON names.
enum SwiftNames {
    /// Words Swift reserves that Kafka field names could turn into.
    private static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "protocol", "public", "rethrows", "static", "struct",
        "subscript", "typealias", "var", "break", "case", "continue", "default", "defer", "do", "else",
        "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while", "as", "catch",
        "false", "is", "nil", "super", "self", "Self", "throw", "throws", "true", "try", "Type", "Any",
    ]

    /// Members every generated type has; a Kafka field may not take these names.
    static let reservedMembers: Set<String> = ["unknownTaggedFields", "write", "version", "buffer", "flexible"]

    /// "ReplicaId" → "replicaId", "offset" stays.
    static func property(_ jsonName: String) -> String {
        guard let first = jsonName.first else { return jsonName }
        let name = first.lowercased() + jsonName.dropFirst()
        return keywords.contains(name) ? "`\(name)`" : name
    }

    /// "FetchRequest" → "fetch" for enum cases keyed by API.
    static func apiCase(_ apiName: String) -> String { property(apiName) }

    static func stringLiteral(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"\(escaped)\""
    }
}

/// Accumulates indented lines of Swift.
struct SwiftWriter {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ content: String = "") {
        if content.isEmpty {
            text += "\n"
        } else {
            text += String(repeating: "    ", count: depth) + content + "\n"
        }
    }

    mutating func lines(_ contents: [String]) { contents.forEach { line($0) } }

    /// `header {` … `}` with the body indented.
    mutating func block(_ header: String, _ body: (inout SwiftWriter) -> Void) {
        line(header + " {")
        depth += 1
        body(&self)
        depth -= 1
        line("}")
    }

    mutating func docComment(_ about: String?) {
        guard let about, !about.isEmpty else { return }
        for piece in about.split(separator: "\n") { line("/// " + piece.trimmingWhitespace()) }
    }
}
