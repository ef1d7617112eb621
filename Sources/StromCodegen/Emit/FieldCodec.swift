/// What the emitters need to know about one field in the context of its message: Swift type,
/// default, and the version conditions under which it is present, nullable or tagged.
struct FieldContext {
    let field: FieldSpec
    let message: MessageSpec

    var valid: VersionRange { message.validVersions }
    var property: String { SwiftNames.property(field.name) }
    var path: String { SwiftNames.stringLiteral(field.name) }

    /// Optional in Swift when null is possible in some version, or is the default. (Kafka's Java
    /// defaults records fields to null even where null cannot be sent; an empty buffer is the
    /// default that can.)
    var isOptional: Bool {
        field.defaultValue == .null
            || !field.nullableVersions.intersection(field.versions).intersection(valid).isEmpty
    }

    var presentVersions: VersionRange { field.versions.intersection(valid) }
    var inlineVersions: VersionRange { field.inlineVersions.intersection(valid) }
    var taggedVersions: VersionRange { field.taggedVersions.intersection(valid) }

    var presentCondition: String { presentVersions.swiftCondition(within: valid) }
    var inlineCondition: String { inlineVersions.swiftCondition(within: valid) }
    var taggedCondition: String { taggedVersions.swiftCondition(within: valid) }
    var nullableCondition: String {
        if field.nullableVersions.covers(presentVersions, upTo: valid.highest ?? 0) { return "true" }
        return field.nullableVersions.intersection(valid).swiftCondition(within: valid)
    }
    /// True when the field exists in every valid version of its message.
    var alwaysPresent: Bool { presentVersions == valid || presentCondition == "true" }

    var swiftType: String {
        let base = FieldContext.swiftType(field.type)
        return isOptional ? base + "?" : base
    }

    static func swiftType(_ type: FieldType) -> String {
        switch type {
        case .bool: "Bool"
        case .int8: "Int8"
        case .int16: "Int16"
        case .uint16: "UInt16"
        case .int32: "Int32"
        case .uint32: "UInt32"
        case .int64: "Int64"
        case .float64: "Double"
        case .string: "String"
        case .uuid: "KafkaUUID"
        case .bytes, .records: "ByteBuffer"
        case .array(let element): "[\(swiftType(element))]"
        case .structure(let name): name
        }
    }

    var defaultExpression: String {
        if isOptional && (field.defaultValue == .null || (field.type == .records && field.defaultValue == .implicit)) {
            return "nil"
        }
        switch (field.type, field.defaultValue) {
        case (.bool, .literal(let text)): return text
        case (.bool, _): return "false"
        case (.int8, .literal(let text)), (.int16, .literal(let text)), (.uint16, .literal(let text)),
            (.int32, .literal(let text)), (.uint32, .literal(let text)), (.int64, .literal(let text)),
            (.float64, .literal(let text)):
            return text
        case (.int8, _), (.int16, _), (.uint16, _), (.int32, _), (.uint32, _), (.int64, _), (.float64, _): return "0"
        case (.string, .literal(let text)): return SwiftNames.stringLiteral(text)
        case (.string, _): return "\"\""
        case (.uuid, _): return "KafkaUUID.zero"
        case (.bytes, _), (.records, _): return "ByteBuffer()"
        case (.array, _): return "[]"
        case (.structure(let name), _): return "\(message.name).\(name)()"
        }
    }

    /// The compactness of the field's encoding: a literal when it is the same in all versions.
    func compactExpression(flexible: String) -> String {
        if let override = field.flexibleVersionsOverride {
            return override.isEmpty ? "false" : override.swiftCondition(within: valid)
        }
        return flexible
    }

    // MARK: Decoding

    /// Lines that read the field's value from `buffer` into `target`.
    func decodeLines(target: String, compact: String) -> [String] {
        switch field.type {
        case .string: return ["\(target) = \(nullChecked("buffer.readKafkaString(compact: \(compact))"))"]
        case .bytes, .records: return ["\(target) = \(nullChecked("buffer.readKafkaBytes(compact: \(compact))"))"]
        case .array(let element):
            var lines = ["if let count = try buffer.readKafkaArrayCount(compact: \(compact)) {"]
            lines.append("    var elements: \(FieldContext.swiftType(field.type)) = []")
            lines.append("    elements.reserveCapacity(Swift.min(count, kafkaArrayReserveMax))")
            lines.append("    for _ in 0..<count { elements.append(\(elementDecodeExpression(element, compact: compact))) }")
            lines.append("    \(target) = elements")
            lines.append("} else {")
            lines += nullLines(target: target).map { "    " + $0 }
            lines.append("}")
            return lines
        case .structure(let name):
            guard isOptional else { return ["\(target) = try \(name)(from: &buffer, version: version)"] }
            var lines = ["if try buffer.readKafkaInt8() < 0 {"]
            lines += nullLines(target: target).map { "    " + $0 }
            lines.append("} else {")
            lines.append("    \(target) = try \(name)(from: &buffer, version: version)")
            lines.append("}")
            return lines
        default:
            return ["\(target) = try \(FieldContext.scalarRead(field.type))"]
        }
    }

    private func nullChecked(_ read: String) -> String {
        if !isOptional { return "try kafkaNonNull(\(read), field: \(path))" }
        let condition = nullableCondition
        if condition == "true" { return "try \(read)" }
        return "try kafkaNullable(\(read), allowed: \(condition), field: \(path))"
    }

    private func nullLines(target: String) -> [String] {
        guard isOptional else { return ["throw KafkaDecodingError.unexpectedNull(field: \(path))"] }
        let condition = nullableCondition
        if condition == "true" { return ["\(target) = nil"] }
        return ["guard \(condition) else { throw KafkaDecodingError.unexpectedNull(field: \(path)) }", "\(target) = nil"]
    }

    private func elementDecodeExpression(_ element: FieldType, compact: String) -> String {
        switch element {
        case .string: "try kafkaNonNull(buffer.readKafkaString(compact: \(compact)), field: \(path))"
        case .bytes, .records: "try kafkaNonNull(buffer.readKafkaBytes(compact: \(compact)), field: \(path))"
        case .structure(let name): "try \(name)(from: &buffer, version: version)"
        case .array: "unsupported nested array"  // Kafka's format has none; validate() would need extending.
        default: "try " + FieldContext.scalarRead(element)
        }
    }

    static func scalarRead(_ type: FieldType) -> String {
        switch type {
        case .bool: "buffer.readKafkaBool()"
        case .int8: "buffer.readKafkaInt8()"
        case .int16: "buffer.readKafkaInt16()"
        case .uint16: "buffer.readKafkaUInt16()"
        case .int32: "buffer.readKafkaInt32()"
        case .uint32: "buffer.readKafkaUInt32()"
        case .int64: "buffer.readKafkaInt64()"
        case .float64: "buffer.readKafkaFloat64()"
        case .uuid: "buffer.readKafkaUUID()"
        default: "unsupported"
        }
    }

    static func scalarWrite(_ type: FieldType, _ value: String) -> String {
        switch type {
        case .bool: "buffer.writeKafkaBool(\(value))"
        case .int8: "buffer.writeKafkaInt8(\(value))"
        case .int16: "buffer.writeKafkaInt16(\(value))"
        case .uint16: "buffer.writeKafkaUInt16(\(value))"
        case .int32: "buffer.writeKafkaInt32(\(value))"
        case .uint32: "buffer.writeKafkaUInt32(\(value))"
        case .int64: "buffer.writeKafkaInt64(\(value))"
        case .float64: "buffer.writeKafkaFloat64(\(value))"
        case .uuid: "buffer.writeKafkaUUID(\(value))"
        default: "unsupported"
        }
    }

    // MARK: Encoding

    /// Lines that write `value` (an expression of the field's Swift type) to `buffer`.
    func encodeLines(value: String, compact: String) -> [String] {
        switch field.type {
        case .string:
            if !isOptional { return ["try buffer.writeKafkaString(\(value), compact: \(compact))"] }
            return ["try buffer.writeKafkaNullableString(\(value), compact: \(compact), \(nullAllowedArguments))"]
        case .bytes, .records:
            if !isOptional { return ["try buffer.writeKafkaBytes(\(value), compact: \(compact))"] }
            return ["try buffer.writeKafkaNullableBytes(\(value), compact: \(compact), \(nullAllowedArguments))"]
        case .array(let element):
            let loop = [
                "    try buffer.writeKafkaArrayCount(elements.count, compact: \(compact))",
                "    for element in elements {",
                "        \(elementEncode(element, compact: compact))",
                "    }",
            ]
            if !isOptional {
                return ["do {", "    let elements = \(value)"] + loop + ["}"]
            }
            return ["if let elements = \(value) {"] + loop
                + ["} else {", "    try buffer.writeKafkaNullArray(compact: \(compact), \(nullAllowedArguments))", "}"]
        case .structure:
            if !isOptional { return ["try \(value).write(into: &buffer, version: version)"] }
            return [
                "if let present = \(value) {",
                "    buffer.writeKafkaInt8(1)",
                "    try present.write(into: &buffer, version: version)",
                "} else {",
                "    try kafkaCheckNullAllowed(\(nullAllowedArguments))",
                "    buffer.writeKafkaInt8(-1)",
                "}",
            ]
        default:
            return [FieldContext.scalarWrite(field.type, value)]
        }
    }

    private var nullAllowedArguments: String {
        "nullAllowed: \(nullableCondition), field: \(path), version: version"
    }

    private func elementEncode(_ element: FieldType, compact: String) -> String {
        switch element {
        case .string: "try buffer.writeKafkaString(element, compact: \(compact))"
        case .bytes, .records: "try buffer.writeKafkaBytes(element, compact: \(compact))"
        case .structure: "try element.write(into: &buffer, version: version)"
        case .array: "unsupported nested array"
        default: FieldContext.scalarWrite(element, "element")
        }
    }
}
