import NIOCore

/// Why reading or writing a checkpoint file failed.
///
/// A checkpoint that can't be read is not a reason to crash: the caller decides whether to fall back (recover
/// the whole log, rebuild the leader epoch cache) or to take the data directory offline, as Kafka does.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file at `path` doesn't follow the checkpoint format. `line` is 1-based; 0 means the file as a whole
    /// (too large to be a checkpoint).
    case malformed(path: String, line: Int, reason: String)
    /// A file-system operation failed.
    case io(StorageIOError)

    public var description: String {
        switch self {
        case .malformed(let path, let line, let reason):
            line == 0 ? "malformed checkpoint file \(path): \(reason)"
                : "malformed checkpoint file \(path), line \(line): \(reason)"
        case .io(let error):
            "checkpoint I/O failed: \(error)"
        }
    }
}

/// Kafka's checkpoint text format and its atomic replacement, shared by ``OffsetCheckpointFile`` and
/// ``LeaderEpochCheckpointFile`` (Kafka's `CheckpointFile`).
///
/// The format, in UTF-8, every line ending in `\n`:
///
///     0                     version
///     2                     number of entries
///     my-topic 0 1234       one line per entry, fields separated by single spaces
///     my-topic 1 98
///
/// Reading is strict, so that a damaged file is reported rather than half-believed: the version must be 0,
/// the count must match the entry lines, every line must end in `\n` (a last line without one is a cut-off
/// file), and fields must be separated by exactly one space. Two things are accepted because Kafka accepts
/// them: a missing file and an empty (zero-byte) file both read as no entries — Kafka creates checkpoint
/// files empty before their first write.
///
/// Writing never leaves a partly written file under `path`: the text goes to `path.tmp`, which is fsynced and
/// then renamed over `path`, and the directory is fsynced so the rename survives a crash. After a crash the
/// reader sees either the old file or the new one. Not safe for concurrent writers of the same path (they
/// share `path.tmp`); each checkpoint has one owner that serialises its writes.
struct CheckpointTextFile: Sendable {
    /// The only version Kafka has written for these files.
    static let version = 0

    /// The largest file read. Real checkpoints are far smaller (a data directory with a million partitions
    /// writes about 40 MB of offsets); the bound stops a corrupt or wrong file from being read into memory
    /// whole.
    static let sizeBytesMax: Int64 = 256 * 1024 * 1024

    let path: String
    let fileSystem: any StorageFileSystem

    // MARK: Reading

    /// Reads the file and parses each entry line with `parseEntry`, in file order.
    ///
    /// - Parameter parseEntry: Turns one entry line, already split at single spaces, into an entry; throws
    ///   (through ``CheckpointLine/malformed(_:)``) if the fields are wrong.
    /// - Returns: The entries, or none if the file doesn't exist or is empty.
    func read<Entry>(
        parseEntry: (CheckpointLine) throws(CheckpointError) -> Entry
    ) throws(CheckpointError) -> [Entry] {
        guard let bytes = try self.readBytes(), !bytes.isEmpty else {
            return []
        }
        guard bytes.last == UInt8(ascii: "\n") else {
            let lineCount = bytes.lazy.filter { $0 == UInt8(ascii: "\n") }.count + 1
            throw .malformed(
                path: self.path, line: lineCount,
                reason: "last line does not end with a newline (cut-off file?)"
            )
        }
        // Every line ends in "\n", so splitting leaves one empty piece after the last line: drop it.
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()

        let versionLine = self.line(lines[lines.startIndex], number: 1)
        let version = try versionLine.integer(at: 0, of: 1, named: "version", min: 0)
        guard version == Self.version else {
            throw versionLine.malformed("unsupported version \(version) (expected \(Self.version))")
        }
        guard lines.count >= 2 else {
            throw .malformed(path: self.path, line: 2, reason: "missing entry count")
        }
        let countLine = self.line(lines[lines.startIndex + 1], number: 2)
        let expectedCount = try countLine.integer(at: 0, of: 1, named: "entry count", min: 0)

        var entries: [Entry] = []
        // Reserve by the lines actually present, never by the count the file claims.
        entries.reserveCapacity(lines.count - 2)
        for (offset, bytes) in lines.dropFirst(2).enumerated() {
            entries.append(try parseEntry(self.line(bytes, number: 3 + offset)))
        }
        guard entries.count == expectedCount else {
            throw countLine.malformed("entry count is \(expectedCount) but the file has \(entries.count) entries")
        }
        return entries
    }

    /// The whole file, or nil if it doesn't exist.
    private func readBytes() throws(CheckpointError) -> [UInt8]? {
        guard self.fileSystem.exists(self.path) else {
            return nil
        }
        let file: any StorageFile
        do throws(StorageIOError) {
            file = try self.fileSystem.open(self.path, create: false)
        } catch where error.kind == .notFound {
            // Removed between the check and the open: as missing.
            return nil
        } catch {
            throw .io(error)
        }
        let result = Result { () throws(CheckpointError) -> [UInt8] in
            let sizeBytes = try io { () throws(StorageIOError) in try file.size() }
            guard sizeBytes <= Self.sizeBytesMax else {
                throw .malformed(
                    path: self.path, line: 0,
                    reason: "file is \(sizeBytes) bytes, more than the \(Self.sizeBytesMax) a checkpoint may have"
                )
            }
            let buffer = try io { () throws(StorageIOError) in try file.read(at: 0, count: Int(sizeBytes)) }
            return buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
        }
        // A close failure after a good read doesn't make the contents wrong; a read failure wins over it.
        try? file.close()
        return try result.get()
    }

    private func line(_ bytes: ArraySlice<UInt8>, number: Int) -> CheckpointLine {
        CheckpointLine(
            path: self.path,
            number: number,
            fields: bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false),
            text: bytes
        )
    }

    // MARK: Writing

    /// Replaces the file with the version line, the count line and `entryLines`, atomically (see the type's
    /// documentation).
    ///
    /// - Parameter entryLines: One line per entry, without the newline; must not contain a newline.
    func write(entryLines: [String]) throws(CheckpointError) {
        var text = "\(Self.version)\n\(entryLines.count)\n"
        for line in entryLines {
            precondition(!line.utf8.contains(UInt8(ascii: "\n")), "checkpoint entry with a newline: \(line)")
            text += line
            text += "\n"
        }
        let contents = ByteBuffer(string: text)

        try io { () throws(StorageIOError) in
            try self.fileSystem.replaceAtomically(self.path, with: contents, directory: parentDirectory(of: self.path))
        }
    }
}

/// One line of a checkpoint file, split at single spaces, with what's needed to report it as malformed.
struct CheckpointLine {
    let path: String
    /// 1-based.
    let number: Int
    /// The line split at every space: an empty field means a leading, trailing or doubled space.
    let fields: [ArraySlice<UInt8>]
    /// The whole line, without its newline.
    let text: ArraySlice<UInt8>

    /// The most of a line quoted in an error message.
    private static let quotedBytesMax = 120

    /// An error for this line, quoting (the start of) the line.
    func malformed(_ reason: String) -> CheckpointError {
        let quoted = String(decoding: self.text.prefix(Self.quotedBytesMax), as: UTF8.self)
        let ellipsis = self.text.count > Self.quotedBytesMax ? "…" : ""
        return .malformed(path: self.path, line: self.number, reason: "\(reason): \"\(quoted)\(ellipsis)\"")
    }

    /// Checks that the line has exactly `count` fields, none empty.
    func expectFields(_ count: Int) throws(CheckpointError) {
        guard self.fields.count == count, !self.fields.contains(where: \.isEmpty) else {
            throw self.malformed(
                count == 1 ? "expected a single field" : "expected \(count) fields separated by single spaces"
            )
        }
    }

    /// Field `index` as valid UTF-8 text; requires the line to have `count` fields.
    func string(at index: Int, of count: Int, named name: String) throws(CheckpointError) -> String {
        try self.expectFields(count)
        guard let string = String(validating: self.fields[index], as: UTF8.self) else {
            throw self.malformed("\(name) is not valid UTF-8")
        }
        return string
    }

    /// Field `index` as a decimal integer of type `Value`, at least `min`; requires the line to have `count`
    /// fields. Accepts what Kafka writes (an optional `-`, then ASCII digits) and nothing else.
    func integer<Value: FixedWidthInteger & SignedInteger>(
        at index: Int,
        of count: Int,
        named name: String,
        min: Value,
        as type: Value.Type = Value.self
    ) throws(CheckpointError) -> Value {
        try self.expectFields(count)
        guard let value = parseDecimal(self.fields[index], as: Value.self) else {
            throw self.malformed("\(name) is not a decimal \(Value.bitWidth)-bit integer")
        }
        guard value >= min else {
            throw self.malformed("\(name) \(value) is less than \(min)")
        }
        return value
    }
}

/// `digits` as a decimal integer (optional leading `-`, at least one ASCII digit), or nil if it isn't one or
/// doesn't fit `Value`.
private func parseDecimal<Value: FixedWidthInteger & SignedInteger>(
    _ digits: ArraySlice<UInt8>,
    as type: Value.Type
) -> Value? {
    var remaining = digits[...]
    let isNegative = remaining.first == UInt8(ascii: "-")
    if isNegative {
        remaining = remaining.dropFirst()
    }
    guard !remaining.isEmpty else {
        return nil
    }
    var value: Value = 0
    for byte in remaining {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
            return nil
        }
        let digit = Value(byte - UInt8(ascii: "0"))
        // Accumulate towards the sign so that Value.min parses too.
        let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 10)
        let (next, digitOverflow) = isNegative
            ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
        guard !shiftOverflow, !digitOverflow else {
            return nil
        }
        value = next
    }
    return value
}

/// The directory containing `path`: what precedes its last `/`, `/` for a file at the root, `.` for a bare
/// name.
private func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else {
        return "."
    }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// Runs a file-system operation, wrapping its error.
private func io<Value>(_ operation: () throws(StorageIOError) -> Value) throws(CheckpointError) -> Value {
    do throws(StorageIOError) {
        return try operation()
    } catch {
        throw .io(error)
    }
}
