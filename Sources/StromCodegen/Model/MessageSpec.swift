import Foundation

/// One message definition from `../shared/kafka-protocol`: a request, response, header, or a data
/// schema (coordinator records, embedded consumer protocol types).
struct MessageSpec {
    enum Kind: String { case request, response, header, data }

    let name: String
    let kind: Kind
    let apiKey: Int16?
    let validVersions: VersionRange
    let flexibleVersions: VersionRange
    let deprecatedVersions: VersionRange
    let latestVersionUnstable: Bool
    let listeners: [String]
    let fields: [FieldSpec]
    /// Every struct type of the message, inline or common, by name. Kafka requires the names to be
    /// unique within one message, so they become one flat namespace inside the generated type.
    let structs: [StructSpec]
    let sourceFile: String
}

struct StructSpec {
    let name: String
    let versions: VersionRange
    let fields: [FieldSpec]
}

struct FieldSpec {
    let name: String
    let type: FieldType
    /// Versions in which the field exists at all, inline or tagged.
    let versions: VersionRange
    let nullableVersions: VersionRange
    let taggedVersions: VersionRange
    let tag: UInt32?
    let ignorable: Bool
    let defaultValue: DefaultValue
    let entityType: String?
    let about: String?
    /// `"flexibleVersions": "none"` on a field keeps the classic (non-compact) encoding even in
    /// flexible versions; RequestHeader's ClientId is the one user.
    let flexibleVersionsOverride: VersionRange?
    let mapKey: Bool
    let zeroCopy: Bool

    /// Versions where the field is written in the fixed part of the message, not as a tag.
    /// Tagged versions are open-ended, so what is left is a prefix of `versions`.
    var inlineVersions: VersionRange {
        guard let taggedFrom = taggedVersions.lowest else { return versions }
        return versions.intersection(VersionRange(lowest: 0, highest: taggedFrom - 1))
    }
}

/// A field's default as written in the JSON ("default"), still untyped.
enum DefaultValue: Equatable {
    case implicit
    case null
    case literal(String)
}

extension MessageSpec {
    static func load(from url: URL) throws -> MessageSpec {
        let text = try String(contentsOf: url, encoding: .utf8)
        let json = try JSONSerialization.jsonObject(with: Data(strippingLineComments(text).utf8))
        guard let object = json as? [String: Any] else { throw SpecError("\(url.lastPathComponent): not an object") }
        do {
            return try MessageSpec(json: object, sourceFile: url.lastPathComponent)
        } catch {
            throw SpecError("\(url.lastPathComponent): \(error.description)")
        }
    }

    init(json: [String: Any], sourceFile: String) throws(SpecError) {
        guard let name = json["name"] as? String else { throw SpecError("missing name") }
        guard let kindText = json["type"] as? String, let kind = Kind(rawValue: kindText) else {
            throw SpecError("unknown message type \(json["type"] ?? "nil")")
        }
        self.name = name
        self.kind = kind
        self.sourceFile = sourceFile
        self.apiKey = (json["apiKey"] as? NSNumber).map { $0.int16Value }
        self.validVersions = try VersionRange(parsing: Self.string(json["validVersions"], "validVersions"))
        self.flexibleVersions = try VersionRange(parsing: Self.string(json["flexibleVersions"], "flexibleVersions"))
        self.deprecatedVersions = try (json["deprecatedVersions"] as? String).map { (t: String) throws(SpecError) in try VersionRange(parsing: t) } ?? .none
        self.latestVersionUnstable = json["latestVersionUnstable"] as? Bool ?? false
        self.listeners = json["listeners"] as? [String] ?? []
        if (kind == .request || kind == .response) && apiKey == nil { throw SpecError("\(kind) without apiKey") }

        var structs: [StructSpec] = []
        for common in json["commonStructs"] as? [[String: Any]] ?? [] {
            guard let structName = common["name"] as? String else { throw SpecError("common struct without name") }
            let versions = try VersionRange(parsing: Self.string(common["versions"], "versions of \(structName)"))
            let fields = try Self.parseFields(common["fields"], into: &structs)
            structs.append(StructSpec(name: structName, versions: versions, fields: fields))
        }
        self.fields = try Self.parseFields(json["fields"], into: &structs)
        self.structs = structs
        try validate()
    }

    private static func string(_ value: Any?, _ what: String) throws(SpecError) -> String {
        guard let text = value as? String else { throw SpecError("missing \(what)") }
        return text
    }

    private static func parseFields(_ value: Any?, into structs: inout [StructSpec]) throws(SpecError) -> [FieldSpec] {
        guard let list = value as? [[String: Any]] else { throw SpecError("fields must be a list") }
        var fields: [FieldSpec] = []
        for entry in list {
            let field = try parseField(entry, into: &structs)
            fields.append(field)
        }
        return fields
    }

    private static func parseField(_ json: [String: Any], into structs: inout [StructSpec]) throws(SpecError) -> FieldSpec {
        guard let name = json["name"] as? String else { throw SpecError("field without name") }
        let type = try FieldType(parsing: string(json["type"], "type of \(name)"))
        let taggedVersions = try (json["taggedVersions"] as? String).map { (t: String) throws(SpecError) in try VersionRange(parsing: t) } ?? .none
        // A field that exists only as a tag may omit "versions"; it then has its tagged versions.
        let versions: VersionRange
        if let text = json["versions"] as? String {
            versions = try VersionRange(parsing: text)
        } else if !taggedVersions.isEmpty {
            versions = taggedVersions
        } else {
            throw SpecError("field \(name) has no versions")
        }
        let nullable = try (json["nullableVersions"] as? String).map { (t: String) throws(SpecError) in try VersionRange(parsing: t) } ?? .none
        // Tags are numbers, but one definition writes its tag as a string ("0").
        let tag: UInt32?
        switch json["tag"] {
        case nil: tag = nil
        case let number as NSNumber:
            guard number.int64Value >= 0 else { throw SpecError("negative tag on \(name)") }
            tag = number.uint32Value
        case let text as String:
            guard let parsed = UInt32(text) else { throw SpecError("bad tag '\(text)' on \(name)") }
            tag = parsed
        default: throw SpecError("bad tag on \(name)")
        }
        let defaultValue: DefaultValue
        switch json["default"] {
        case nil: defaultValue = .implicit
        case is NSNull: defaultValue = .null
        case let text as String: defaultValue = text == "null" ? .null : .literal(text)
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; tell them apart by the field type.
            defaultValue = .literal(type == .bool ? (number.boolValue ? "true" : "false") : number.stringValue)
        default: throw SpecError("unsupported default on \(name)")
        }
        let flexibleOverride = try (json["flexibleVersions"] as? String).map { (t: String) throws(SpecError) in try VersionRange(parsing: t) }
        if let structFields = json["fields"] {
            guard let structName = type.structName else { throw SpecError("field \(name) has fields but type \(type)") }
            let fields = try parseFields(structFields, into: &structs)
            structs.append(StructSpec(name: structName, versions: versions, fields: fields))
        }
        return FieldSpec(
            name: name, type: type, versions: versions, nullableVersions: nullable, taggedVersions: taggedVersions,
            tag: tag, ignorable: json["ignorable"] as? Bool ?? false, defaultValue: defaultValue,
            entityType: json["entityType"] as? String, about: json["about"] as? String,
            flexibleVersionsOverride: flexibleOverride, mapKey: json["mapKey"] as? Bool ?? false,
            zeroCopy: json["zeroCopy"] as? Bool ?? false)
    }

    /// The rules Kafka's own generator enforces, so that emitting never meets a surprise.
    private func validate() throws(SpecError) {
        var seen = Set<String>()
        for spec in structs {
            guard seen.insert(spec.name).inserted else { throw SpecError("struct \(spec.name) declared twice") }
            guard spec.name != name else { throw SpecError("struct named like its message") }
        }
        let limit = validVersions.highest ?? 0
        func check(_ fields: [FieldSpec], in owner: String) throws(SpecError) {
            var tags = Set<UInt32>()
            var names = Set<String>()
            for field in fields {
                guard names.insert(field.name.lowercased()).inserted else { throw SpecError("\(owner).\(field.name) twice") }
                if let element = field.type.structName, !seen.contains(element) {
                    throw SpecError("\(owner).\(field.name) refers to unknown struct \(element)")
                }
                if !field.nullableVersions.isEmpty && !field.type.canBeNullable {
                    throw SpecError("\(owner).\(field.name): type \(field.type) cannot be nullable")
                }
                if let tag = field.tag {
                    guard tags.insert(tag).inserted else { throw SpecError("\(owner).\(field.name): tag \(tag) reused") }
                    guard !field.taggedVersions.isEmpty, field.taggedVersions.highest == nil else {
                        throw SpecError("\(owner).\(field.name): tagged versions must be open-ended")
                    }
                    guard flexibleVersions.covers(field.taggedVersions.intersection(validVersions), upTo: limit) else {
                        throw SpecError("\(owner).\(field.name): tagged in non-flexible versions")
                    }
                } else if !field.taggedVersions.isEmpty {
                    throw SpecError("\(owner).\(field.name): taggedVersions without a tag")
                }
                if field.defaultValue == .null && !field.nullableVersions.covers(field.versions.intersection(validVersions), upTo: limit) {
                    throw SpecError("\(owner).\(field.name): default null but not nullable in every version")
                }
            }
        }
        try check(fields, in: name)
        for spec in structs { try check(spec.fields, in: spec.name) }
    }

    func structSpec(named structName: String) -> StructSpec? { structs.first { $0.name == structName } }
}
