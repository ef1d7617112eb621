import Foundation

/// How the messages page shows keys, values and header values.
public enum RecordFormat: String, Sendable, CaseIterable {
    case text, json, hex

    var label: String {
        switch self {
        case .text: "Text"
        case .json: "JSON (pretty)"
        case .hex: "Hex"
        }
    }
}

/// Record bytes as HTML in a ``RecordFormat``: text (invalid UTF-8 shown with U+FFFD), JSON
/// re-indented in the order it was written (bytes that are not JSON fall back to text, marked),
/// or a hex dump with offsets and the printable characters.
enum RecordPresentation {
    /// - Parameter markNotJSON: say so when JSON was asked for and the bytes are not (values; keys
    ///   and headers are often plain text and shown as such).
    static func html(_ bytes: [UInt8]?, as format: RecordFormat, markNotJSON: Bool = true) -> String {
        guard let bytes else { return "<span class=\"muted\">null</span>" }
        switch format {
        case .text:
            return "<pre>\(HTML.escape(String(decoding: bytes, as: UTF8.self)))</pre>"
        case .json:
            guard let pretty = prettyJSON(bytes) else {
                return "<pre>\(HTML.escape(String(decoding: bytes, as: UTF8.self)))</pre>" + (markNotJSON ? "<span class=\"muted\">(not JSON)</span>" : "")
            }
            return "<pre class=\"json\">\(HTML.escape(pretty))</pre>"
        case .hex:
            return "<pre>\(HTML.escape(hexDump(bytes)))</pre>"
        }
    }

    /// `bytes` re-indented by two spaces, keys in their written order; nil when not valid JSON.
    static func prettyJSON(_ bytes: [UInt8]) -> String? {
        guard (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        var depth = 0, inString = false, escaped = false
        var index = 0
        func newline() {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: depth * 2))
        }
        func nextSignificant(after position: Int) -> UInt8? {
            var next = position + 1
            while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
            return next < bytes.count ? bytes[next] : nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            defer { index += 1 }
            if inString {
                out.append(byte)
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                continue
            case UInt8(ascii: "\""):
                inString = true
                out.append(byte)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                out.append(byte)
                let closer = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if nextSignificant(after: index) == closer {
                    // An empty object or array stays on one line.
                    while bytes[index] != closer { index += 1 }
                    out.append(closer)
                } else {
                    depth += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                newline()
                out.append(byte)
            case UInt8(ascii: ","):
                out.append(byte)
                newline()
            case UInt8(ascii: ":"):
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// 16 bytes a line: the offset, the bytes in hex, and the printable ASCII ("." for the rest).
    static func hexDump(_ bytes: [UInt8]) -> String {
        guard !bytes.isEmpty else { return "(empty)" }
        let digits = Array("0123456789abcdef".utf8)
        var lines: [String] = []
        var offset = 0
        while offset < bytes.count {
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            var line = String(String(offset, radix: 16).leftPadded(to: 8)) + "  "
            for (column, byte) in row.enumerated() {
                line += String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
                line += column == 7 ? "  " : " "
            }
            line += String(repeating: "   ", count: 16 - row.count) + (row.count <= 8 ? " " : "")
            line += "|" + String(decoding: row.map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self) + "|"
            lines.append(line)
            offset += 16
        }
        return lines.joined(separator: "\n")
    }
}
