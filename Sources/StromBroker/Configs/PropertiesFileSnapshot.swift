public import Configuration
import Foundation

/// Kafka's `server.properties` format for swift-configuration's `FileProvider`: `key=value`,
/// `key: value` or `key value` lines, `#` and `!` comments, backslash line continuations and
/// escapes. Keys are Kafka's dotted names, looked up as they are (`log.retention.ms`).
///
/// swift-configuration reads JSON, YAML and property lists but not Java properties, so this
/// snapshot plugs the format into its provider chain (flags, then environment, then file).
public struct PropertiesFileSnapshot: FileConfigSnapshot {
    public struct ParsingOptions: FileParsingOptions {
        public static var `default`: Self { Self() }
    }

    public struct InvalidValue: Error, CustomStringConvertible {
        public var key: String
        public var value: String
        public var expected: String
        public var description: String { "\(key)=\(value) is not a valid \(expected)" }
    }

    public let providerName: String
    /// Every key in the file with its text value.
    public let values: [String: String]

    public init(data: RawSpan, providerName: String, parsingOptions: ParsingOptions) throws {
        self.providerName = providerName
        self.values = Self.parse(data.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }

    /// The key/value pairs of a properties text; a later duplicate wins, as in Java.
    public static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        var logicalLine = ""
        var continues = false
        for physicalLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = physicalLine.drop { $0 == " " || $0 == "\t" || $0 == "\u{0C}" }
            if !continues && (line.isEmpty || line.first == "#" || line.first == "!") { continue }
            // An odd number of trailing backslashes continues the line on the next one.
            continues = line.reversed().prefix { $0 == "\\" }.count % 2 == 1
            if continues { line = line.dropLast() }
            logicalLine += line
            if continues { continue }
            let (key, value) = split(logicalLine)
            values[key] = value
            logicalLine = ""
        }
        if !logicalLine.isEmpty {
            let (key, value) = split(logicalLine)
            values[key] = value
        }
        return values
    }

    /// The key ends at the first unescaped `=`, `:` or blank; blanks and one separator follow it.
    private static func split(_ line: String) -> (String, String) {
        let characters = Array(line)
        let blanks: Set<Character> = [" ", "\t", "\u{0C}"]
        var keyEnd = 0
        while keyEnd < characters.count {
            let character = characters[keyEnd]
            if character == "\\" { keyEnd += 2; continue }
            if character == "=" || character == ":" || blanks.contains(character) { break }
            keyEnd += 1
        }
        keyEnd = min(keyEnd, characters.count)
        var valueStart = keyEnd
        while valueStart < characters.count, blanks.contains(characters[valueStart]) { valueStart += 1 }
        if valueStart < characters.count, characters[valueStart] == "=" || characters[valueStart] == ":" { valueStart += 1 }
        while valueStart < characters.count, blanks.contains(characters[valueStart]) { valueStart += 1 }
        return (unescape(characters[..<keyEnd]), unescape(characters[valueStart...]))
    }

    private static func unescape(_ characters: ArraySlice<Character>) -> String {
        var text = ""
        var iterator = characters.makeIterator()
        while let character = iterator.next() {
            guard character == "\\", let escaped = iterator.next() else {
                if character != "\\" { text.append(character) }
                continue
            }
            switch escaped {
            case "t": text.append("\t")
            case "n": text.append("\n")
            case "r": text.append("\r")
            case "f": text.append("\u{0C}")
            case "u":
                var hex = ""
                for _ in 0..<4 { if let digit = iterator.next() { hex.append(digit) } }
                if let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) {
                    text.unicodeScalars.append(scalar)
                } else {
                    text += "\\u" + hex
                }
            default: text.append(escaped)
            }
        }
        return text
    }

    public func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        let name = key.components.joined(separator: ".")
        guard let text = values[name] else { return LookupResult(encodedKey: name, value: nil) }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let items = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        func invalid(_ expected: String) -> InvalidValue { InvalidValue(key: name, value: text, expected: expected) }
        let content: ConfigContent
        switch type {
        case .string: content = .string(text)
        case .int:
            guard let number = Int(trimmed) else { throw invalid("integer") }
            content = .int(number)
        case .double:
            guard let number = Double(trimmed) else { throw invalid("number") }
            content = .double(number)
        case .bool:
            guard let flag = Bool(trimmed.lowercased()) else { throw invalid("boolean") }
            content = .bool(flag)
        case .stringArray: content = .stringArray(items)
        default: throw invalid("\(type)")
        }
        return LookupResult(encodedKey: name, value: ConfigValue(content, isSecret: false))
    }

    public var description: String { "\(providerName) (\(values.count) keys)" }
    public var debugDescription: String {
        "\(providerName): " + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }
}
