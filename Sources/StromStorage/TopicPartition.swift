/// One partition of one topic: the unit a log, a checkpoint entry and a partition directory belong to.
///
/// Ordered by topic, then partition number, so that anything written per partition (checkpoint files,
/// listings) comes out in the same order every time.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// The partition's directory under a data directory: `<topic>-<partition>`, as Kafka names it.
    public var directoryName: String { "\(self.topic)-\(self.partition)" }

    /// `<topic>-<partition>`, the same text as Kafka's `TopicPartition.toString()`.
    public var description: String { self.directoryName }

    /// Parses a partition directory name, `<topic>-<partition>`.
    ///
    /// Topic names may themselves contain `-` (and `.`), so the name is split at the *last* `-`. Returns nil
    /// unless the topic part is non-empty and the partition part is a canonical non-negative decimal `Int32`
    /// (no sign, no leading zeros), so that `TopicPartition(directoryName: name)?.directoryName == name`.
    /// Directories Kafka renames on the way out (`<topic>-<partition>.<id>-delete`, `…-future`, `…-stray`)
    /// therefore don't parse, which is what a log loader scanning a data directory wants.
    ///
    /// - Parameter directoryName: A directory's name (not its path).
    public init?(directoryName: String) {
        guard let separator = directoryName.lastIndex(of: "-") else {
            return nil
        }
        let topic = directoryName[..<separator]
        let partitionDigits = directoryName.utf8[directoryName.utf8.index(after: separator)...]
        guard !topic.isEmpty, let partition = Self.canonicalPartition(partitionDigits) else {
            return nil
        }
        self.init(topic: String(topic), partition: partition)
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// The value of `digits` if it is a canonical non-negative decimal that fits an `Int32`.
    private static func canonicalPartition(_ digits: Substring.UTF8View) -> Int32? {
        guard let first = digits.first, first != UInt8(ascii: "0") || digits.count == 1 else {
            return nil
        }
        var value: Int32 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                return nil
            }
            let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, sumOverflow) = shifted.addingReportingOverflow(Int32(byte - UInt8(ascii: "0")))
            guard !shiftOverflow, !sumOverflow else {
                return nil
            }
            value = sum
        }
        return value
    }
}
