/// The type of a field in Kafka's message JSON.
indirect enum FieldType: Equatable {
    case bool, int8, int16, uint16, int32, uint32, int64, float64
    case string, uuid, bytes, records
    case array(FieldType)
    /// A struct declared inline (with "fields") or among the message's "commonStructs".
    case structure(String)

    init(parsing text: String) throws(SpecError) {
        if text.hasPrefix("[]") {
            self = .array(try FieldType(parsing: String(text.dropFirst(2))))
            return
        }
        switch text {
        case "bool": self = .bool
        case "int8": self = .int8
        case "int16": self = .int16
        case "uint16": self = .uint16
        case "int32": self = .int32
        case "uint32": self = .uint32
        case "int64": self = .int64
        case "float64": self = .float64
        case "string": self = .string
        case "uuid": self = .uuid
        case "bytes": self = .bytes
        case "records": self = .records
        default:
            guard let first = text.first, first.isUppercase, text.allSatisfy({ $0.isLetter || $0.isNumber })
            else { throw SpecError("unknown field type '\(text)'") }
            self = .structure(text)
        }
    }

    var isArray: Bool { if case .array = self { true } else { false } }
    var isStruct: Bool { if case .structure = self { true } else { false } }

    /// Types Kafka allows to be null in some versions.
    var canBeNullable: Bool {
        switch self {
        case .string, .bytes, .records, .array, .structure, .uuid: true
        default: false
        }
    }

    /// The struct name an array or struct field refers to, if any.
    var structName: String? {
        switch self {
        case .structure(let name): name
        case .array(let element): element.structName
        default: nil
        }
    }
}
