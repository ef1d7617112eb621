import Foundation
import NIOCore
@testable import KafkaProtocol

/// Reads the JSON fixtures captured from real clients (see Fixtures/README.md).
enum Fixtures {
    static func load(_ name: String) throws -> [[String: Any]] {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "json") else {
            throw FixtureError("missing fixture \(name).json")
        }
        guard let list = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]] else {
            throw FixtureError("\(name).json is not a list")
        }
        return list
    }

    static func bytes(hex: String) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { throw FixtureError("bad hex") }
            buffer.writeInteger(h << 4 | l)
        }
        return buffer
    }

    static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { String(format: "%02x", $0) }.joined()
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Looks a value up in a generated message by Kafka's JSON path ("Topics[0].Name",
/// "Topics.length", "Records(hex)"), using the generator's naming rule (lower-case first letter).
enum MessagePath {
    static func value(of root: Any, path: String) -> Any? {
        var current: Any? = root
        var components = path.split(separator: ".").map(String.init)
        if components.last == "length" {
            components.removeLast()
            guard let array = walk(current, components) else { return nil }
            return Mirror(reflecting: unwrap(array) ?? array).children.count
        }
        current = walk(current, components)
        return current
    }

    private static func walk(_ start: Any?, _ components: [String]) -> Any? {
        var current = start
        for component in components {
            var name = component
            var index: Int? = nil
            if let open = name.firstIndex(of: "["), let close = name.firstIndex(of: "]") {
                index = Int(name[name.index(after: open)..<close])
                name = String(name[..<open])
            }
            name = name.replacingOccurrences(of: "(hex)", with: "")
            let property = name.prefix(1).lowercased() + name.dropFirst()
            guard let object = unwrap(current) else { return nil }
            guard let child = Mirror(reflecting: object).children.first(where: { $0.label == property }) else { return nil }
            current = child.value
            if let index {
                guard let array = unwrap(current) else { return nil }
                let elements = Array(Mirror(reflecting: array).children)
                guard index < elements.count else { return nil }
                current = elements[index].value
            }
        }
        return current
    }

    /// Strips Optional layers; nil for a nil optional.
    static func unwrap(_ value: Any?) -> Any? {
        guard let value else { return nil }
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        guard let child = mirror.children.first else { return nil }
        return unwrap(child.value)
    }

    /// Whether a Swift value equals a JSON fixture value.
    static func matches(_ swiftValue: Any?, _ expected: Any, hexPath: Bool) -> Bool {
        let actual = unwrap(swiftValue)
        if expected is NSNull { return actual == nil }
        guard let actual else { return false }
        if hexPath, let buffer = actual as? ByteBuffer, let text = expected as? String {
            return Fixtures.hex(buffer) == text.lowercased()
        }
        if let uuid = actual as? KafkaUUID, let text = expected as? String {
            return uuidText(uuid) == text.lowercased()
        }
        if let text = expected as? String { return (actual as? String) == text }
        if let number = expected as? NSNumber {
            if let flag = actual as? Bool { return flag == number.boolValue }
            switch actual {
            case let v as Int8: return Int64(v) == number.int64Value
            case let v as Int16: return Int64(v) == number.int64Value
            case let v as Int32: return Int64(v) == number.int64Value
            case let v as Int64: return v == number.int64Value
            case let v as UInt16: return Int64(v) == number.int64Value
            case let v as UInt32: return Int64(v) == number.int64Value
            case let v as Int: return Int64(v) == number.int64Value
            case let v as Double: return v == number.doubleValue
            default: return false
            }
        }
        return false
    }

    static func uuidText(_ uuid: KafkaUUID) -> String {
        let hex = String(format: "%016llx%016llx", uuid.high, uuid.low)
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}
