/// Kafka's rules and reserved names for topics (`org.apache.kafka.common.internals.Topic`).
///
/// A valid name is non-empty, at most ``lengthMax`` characters, not `.` or `..`, and made only of ASCII
/// letters, digits, `.`, `_` and `-`. Two names that differ only in `.` versus `_` at the same places
/// *collide*: Kafka's metric names replace `.` with `_`, so it refuses to create a topic that collides with
/// an existing one.
public enum TopicNames {
    /// The longest topic name Kafka allows: 255 (the usual file-name limit) minus room for the partition
    /// suffix and the `.<id>-delete` suffix Kafka adds when it deletes a partition directory.
    public static let lengthMax = 249

    /// `__consumer_offsets`: group metadata and committed offsets.
    public static let groupMetadataTopicName = "__consumer_offsets"
    /// `__transaction_state`: transaction coordinator state.
    public static let transactionStateTopicName = "__transaction_state"
    /// `__share_group_state`: share group state.
    public static let shareGroupStateTopicName = "__share_group_state"
    /// `__cluster_metadata`: Kafka's KRaft metadata log. No client may create a topic of that name (Kafka
    /// answers `INVALID_REQUEST`); Strom keeps its own metadata in a directory of that name.
    public static let clusterMetadataTopicName = "__cluster_metadata"

    /// The topics Kafka reports as internal (`isInternal` in Metadata responses).
    public static let internalTopicNames: Set<String> = [
        groupMetadataTopicName, transactionStateTopicName, shareGroupStateTopicName,
    ]

    /// Whether `name` is one of Kafka's internal topics.
    public static func isInternal(_ name: String) -> Bool {
        internalTopicNames.contains(name)
    }

    /// Why `name` is not a valid topic name, in Kafka's words, or nil if it is valid. The rules are checked
    /// in Kafka's order, so a name that breaks several gets Kafka's reason.
    public static func invalidityReason(_ name: String) -> String? {
        if name.isEmpty {
            return "the empty string is not allowed"
        }
        if name == "." {
            return "'.' is not allowed"
        }
        if name == ".." {
            return "'..' is not allowed"
        }
        // Kafka measures Java's `String.length()`, in UTF-16 code units. The length rule comes before the
        // character rule, so a long non-ASCII name must be counted the same way to get Kafka's reason.
        if name.utf16.count > lengthMax {
            return "the length of '\(name)' is longer than the max allowed length \(lengthMax)"
        }
        if !name.utf8.allSatisfy(isLegal) {
            return "'\(name)' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"
        }
        return nil
    }

    /// Checks `name` against Kafka's rules.
    /// - Throws: ``MetadataError/invalidTopicName(name:reason:)`` with Kafka's reason.
    public static func validate(_ name: String) throws(MetadataError) {
        if let reason = invalidityReason(name) {
            throw .invalidTopicName(name: name, reason: reason)
        }
    }

    /// `name` with every `.` replaced by `_` (Kafka's `unifyCollisionChars`): two names collide exactly when
    /// their collision keys are equal.
    public static func collisionKey(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { $0 == "." ? "_" : $0 }))
    }

    /// Whether `name` contains `.` or `_`, the only names that can collide with another.
    public static func hasCollisionCharacters(_ name: String) -> Bool {
        name.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") }
    }

    private static func isLegal(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
