import NIOCore
import StromStorage
import Synchronization
import Testing

private let offsetCheckpointPath = "/data/recovery-point-offset-checkpoint"
private let offsetCheckpointTemporaryPath = offsetCheckpointPath + ".tmp"

/// A recovery point checkpoint as Kafka writes it: version, count, then `topic partition offset` lines, sorted
/// here by topic and then numerically by partition (2 before 10).
private let kafkaFormatOffsetCheckpointText = """
    0
    5
    __consumer_offsets 49 100
    my-topic 2 9223372036854775807
    my-topic 10 0
    my-topic.v2 0 42
    orders-eu.west-1 7 1500

    """

private let kafkaFormatOffsetCheckpointEntries: [TopicPartition: Int64] = [
    TopicPartition(topic: "my-topic", partition: 10): 0,
    TopicPartition(topic: "orders-eu.west-1", partition: 7): 1500,
    TopicPartition(topic: "my-topic", partition: 2): Int64.max,
    TopicPartition(topic: "__consumer_offsets", partition: 49): 100,
    TopicPartition(topic: "my-topic.v2", partition: 0): 42,
]

/// A damaged offset checkpoint and the line its error must name.
struct MalformedCheckpointCase: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var line: Int

    init(_ name: String, _ text: String, line: Int) {
        self.init(name, Array(text.utf8), line: line)
    }

    init(_ name: String, _ bytes: [UInt8], line: Int) {
        self.name = name
        self.bytes = bytes
        self.line = line
    }

    var testDescription: String { self.name }
}

private let malformedOffsetCheckpoints: [MalformedCheckpointCase] = [
    MalformedCheckpointCase("unsupported version", "1\n0\n", line: 1),
    MalformedCheckpointCase("non-numeric version", "v0\n0\n", line: 1),
    MalformedCheckpointCase("empty version line", "\n", line: 1),
    MalformedCheckpointCase("version only", "0\n", line: 2),
    MalformedCheckpointCase("non-numeric count", "0\ntwo\n", line: 2),
    MalformedCheckpointCase("negative count", "0\n-1\n", line: 2),
    MalformedCheckpointCase("count larger than entries", "0\n2\nt 0 5\n", line: 2),
    MalformedCheckpointCase("count smaller than entries", "0\n1\nt 0 5\nt 1 6\n", line: 2),
    MalformedCheckpointCase("huge count", "0\n99999999999\n", line: 2),
    MalformedCheckpointCase("non-numeric offset", "0\n1\nt 0 abc\n", line: 3),
    MalformedCheckpointCase("non-numeric partition", "0\n1\nt p0 5\n", line: 3),
    MalformedCheckpointCase("double space", "0\n1\nt 0  5\n", line: 3),
    MalformedCheckpointCase("leading space", "0\n1\n t 0 5\n", line: 3),
    MalformedCheckpointCase("trailing space", "0\n1\nt 0 5 \n", line: 3),
    MalformedCheckpointCase("tabs", "0\n1\nt\t0\t5\n", line: 3),
    MalformedCheckpointCase("missing field", "0\n1\nt 0\n", line: 3),
    MalformedCheckpointCase("extra field", "0\n1\nt 0 5 6\n", line: 3),
    MalformedCheckpointCase("negative partition", "0\n1\nt -1 5\n", line: 3),
    MalformedCheckpointCase("negative offset", "0\n1\nt 0 -5\n", line: 3),
    MalformedCheckpointCase("plus sign", "0\n1\nt 0 +5\n", line: 3),
    MalformedCheckpointCase("partition beyond Int32", "0\n1\nt 2147483648 5\n", line: 3),
    MalformedCheckpointCase("offset beyond Int64", "0\n1\nt 0 9223372036854775808\n", line: 3),
    MalformedCheckpointCase("CRLF line end", "0\n1\nt 0 5\r\n", line: 3),
    MalformedCheckpointCase("cut off: no final newline", "0\n1\nt 0 5", line: 3),
    MalformedCheckpointCase("cut off inside the count", "0\n1", line: 2),
    MalformedCheckpointCase("blank line after the entries", "0\n1\nt 0 5\n\n", line: 4),
    MalformedCheckpointCase("partition listed twice", "0\n2\nt 0 5\nt 0 6\n", line: 4),
    MalformedCheckpointCase("invalid UTF-8 topic", Array("0\n1\n".utf8) + [0xFF, 0xFE] + Array(" 0 5\n".utf8), line: 3),
    MalformedCheckpointCase("binary garbage", [0x00, 0x01, 0x02, 0x0A], line: 1),
]

/// The steps of a checkpoint write that may fail, in order.
private let checkpointWriteSteps: [TestMemoryFileSystem.Operation] = [
    .open(offsetCheckpointTemporaryPath, create: true),
    .truncate(offsetCheckpointTemporaryPath, sizeBytes: 0),
    .write(offsetCheckpointTemporaryPath),
    .sync(offsetCheckpointTemporaryPath),
    .close(offsetCheckpointTemporaryPath),
    .rename(offsetCheckpointTemporaryPath, to: offsetCheckpointPath),
]

@Suite("Checkpoint files: Kafka's text format, atomic replacement")
struct CheckpointFileTests {
    // MARK: Offset checkpoints

    @Test("write produces Kafka's bytes, sorted by topic then partition")
    func offsetCheckpointBytes() throws {
        let fileSystem = TestMemoryFileSystem()
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        try checkpoint.write(kafkaFormatOffsetCheckpointEntries)
        #expect(fileSystem.contents(of: offsetCheckpointPath) == Array(kafkaFormatOffsetCheckpointText.utf8))
        #expect(fileSystem.exists(offsetCheckpointTemporaryPath) == false)
    }

    @Test("reads Kafka's bytes, topics with '-', '.' and '_' included")
    func offsetCheckpointReadsKafkaFormat() throws {
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, Array(kafkaFormatOffsetCheckpointText.utf8))
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        #expect(try checkpoint.read() == kafkaFormatOffsetCheckpointEntries)
    }

    @Test("round trip, including no entries")
    func offsetCheckpointRoundTrip() throws {
        let fileSystem = TestMemoryFileSystem()
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        try checkpoint.write([:])
        #expect(fileSystem.contents(of: offsetCheckpointPath) == Array("0\n0\n".utf8))
        #expect(try checkpoint.read() == [:])

        var entries: [TopicPartition: Int64] = [:]
        for partition in Int32(0)..<200 {
            entries[TopicPartition(topic: "topic-\(partition % 7).x", partition: partition)] = Int64(partition) * 1000
        }
        try checkpoint.write(entries)
        #expect(try checkpoint.read() == entries)
        // Rewriting replaces, never merges.
        try checkpoint.write([TopicPartition(topic: "only", partition: 0): 1])
        #expect(try checkpoint.read() == [TopicPartition(topic: "only", partition: 0): 1])
    }

    @Test("a missing file or an empty (zero-byte) file reads as no entries")
    func offsetCheckpointMissingOrEmpty() throws {
        let fileSystem = TestMemoryFileSystem()
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        #expect(try checkpoint.read() == [:])
        // Kafka creates checkpoint files empty before their first write.
        fileSystem.seed(offsetCheckpointPath, [])
        #expect(try checkpoint.read() == [:])
    }

    @Test("malformed files are reported with the offending line, never crash", arguments: malformedOffsetCheckpoints)
    func offsetCheckpointMalformed(file: MalformedCheckpointCase) {
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, file.bytes)
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        let error = #expect(throws: CheckpointError.self) {
            try checkpoint.read()
        }
        guard case .malformed(let path, let line, let reason)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(path == offsetCheckpointPath)
        #expect(line == file.line, "\(reason)")
        #expect(!reason.isEmpty)
    }

    @Test("a file larger than any checkpoint is refused without being read")
    func offsetCheckpointTooLarge() {
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, Array("0\n0\n".utf8))
        fileSystem.reportSize(of: offsetCheckpointPath, as: 1 << 40)
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        let error = #expect(throws: CheckpointError.self) {
            try checkpoint.read()
        }
        guard case .malformed(_, line: 0, _)? = error else {
            Issue.record("expected .malformed for the whole file, got \(String(describing: error))")
            return
        }
        #expect(!fileSystem.operations.contains(.read(offsetCheckpointPath)))
    }

    @Test("a read failure is reported as I/O, and the file is closed")
    func offsetCheckpointReadFailure() {
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, Array(kafkaFormatOffsetCheckpointText.utf8))
        fileSystem.fail(.read(offsetCheckpointPath))
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        #expect(throws: CheckpointError.io(TestMemoryFileSystem.injectedError(.read(offsetCheckpointPath)))) {
            try checkpoint.read()
        }
        #expect(fileSystem.operations.last == .close(offsetCheckpointPath))
    }

    // MARK: Atomic replacement

    @Test("write: temporary file, truncate, write, fsync, close, rename over the file, fsync the directory")
    func writeSequence() throws {
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, Array("0\n1\nold 0 1\n".utf8))
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        try checkpoint.write(kafkaFormatOffsetCheckpointEntries)

        #expect(fileSystem.operations == [
            .open(offsetCheckpointTemporaryPath, create: true),
            .truncate(offsetCheckpointTemporaryPath, sizeBytes: 0),
            .write(offsetCheckpointTemporaryPath),
            .sync(offsetCheckpointTemporaryPath),
            .close(offsetCheckpointTemporaryPath),
            .rename(offsetCheckpointTemporaryPath, to: offsetCheckpointPath),
            .syncDirectory("/data"),
        ])
        // The destination itself is never opened or written: only a rename replaces it.
        #expect(fileSystem.operations.filter { $0.touches(offsetCheckpointPath) } == [
            .rename(offsetCheckpointTemporaryPath, to: offsetCheckpointPath),
        ])
    }

    @Test("a crash after any step leaves the old checkpoint or the new one, and the new one once write returns")
    func crashAtEveryStep() throws {
        let oldText = "0\n1\nold-topic 0 7\n"
        let oldEntries = [TopicPartition(topic: "old-topic", partition: 0): Int64(7)]
        // A temporary file left over from an earlier crash, longer than the new contents.
        let staleTemporary = Array(String(repeating: "stale 0 0\n", count: 100).utf8)

        var operationCount = 0
        do {
            let fileSystem = TestMemoryFileSystem()
            fileSystem.seed(offsetCheckpointPath, Array(oldText.utf8))
            try OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem).write(kafkaFormatOffsetCheckpointEntries)
            operationCount = fileSystem.operations.count
        }
        #expect(operationCount == 7)

        for crashAfter in 0...operationCount {
            let fileSystem = TestMemoryFileSystem()
            fileSystem.seed(offsetCheckpointPath, Array(oldText.utf8))
            fileSystem.seed(offsetCheckpointTemporaryPath, staleTemporary)
            fileSystem.crash(afterOperations: crashAfter)
            let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
            let completed = (try? checkpoint.write(kafkaFormatOffsetCheckpointEntries)) != nil
            #expect(completed == (crashAfter == operationCount), "crash after \(crashAfter)")

            fileSystem.powerLoss()
            let recovered = try checkpoint.read()
            if completed {
                #expect(recovered == kafkaFormatOffsetCheckpointEntries, "crash after \(crashAfter)")
            } else {
                #expect(recovered == oldEntries || recovered == kafkaFormatOffsetCheckpointEntries, "crash after \(crashAfter)")
            }
            // Before the rename, the destination still holds the old bytes.
            if crashAfter < 6 {
                #expect(recovered == oldEntries, "crash after \(crashAfter)")
            }
        }
    }

    @Test("a failed step leaves the old file in place and reports I/O", arguments: checkpointWriteSteps.indices)
    func failedStep(stepIndex: Int) throws {
        let failing = checkpointWriteSteps[stepIndex]
        let oldText = "0\n1\nold-topic 0 7\n"
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(offsetCheckpointPath, Array(oldText.utf8))
        fileSystem.fail(failing)
        let checkpoint = OffsetCheckpointFile(path: offsetCheckpointPath, fileSystem: fileSystem)
        #expect(throws: CheckpointError.io(TestMemoryFileSystem.injectedError(failing))) {
            try checkpoint.write(kafkaFormatOffsetCheckpointEntries)
        }
        #expect(fileSystem.contents(of: offsetCheckpointPath) == Array(oldText.utf8))
        #expect(!fileSystem.operations.contains(.syncDirectory("/data")))
        // An opened temporary file is closed even when a later step fails.
        if failing != .open(offsetCheckpointTemporaryPath, create: true) {
            #expect(fileSystem.operations.contains(.close(offsetCheckpointTemporaryPath)))
        }
    }

    @Test("the directory synced is the checkpoint's parent")
    func parentDirectorySync() throws {
        for (path, directory) in [("/a/b/c", "/a/b"), ("/top", "/"), ("relative", "."), ("d/e", "d")] {
            let fileSystem = TestMemoryFileSystem()
            try OffsetCheckpointFile(path: path, fileSystem: fileSystem).write([:])
            #expect(fileSystem.operations.last == .syncDirectory(directory), "\(path)")
        }
    }

    // MARK: Leader epoch checkpoints

    @Test("leader-epoch-checkpoint: Kafka's bytes, round trip in order, missing file")
    func leaderEpochCheckpoint() throws {
        let path = "/data/orders-0/leader-epoch-checkpoint"
        let fileSystem = TestMemoryFileSystem()
        let checkpoint = LeaderEpochCheckpointFile(path: path, fileSystem: fileSystem)
        #expect(try checkpoint.read() == [])

        let entries = [
            EpochEntry(epoch: 0, startOffset: 0),
            EpochEntry(epoch: 2, startOffset: 150),
            EpochEntry(epoch: 5, startOffset: 9000),
            EpochEntry(epoch: Int32.max, startOffset: Int64.max),
        ]
        try checkpoint.write(entries)
        let kafkaText = "0\n4\n0 0\n2 150\n5 9000\n2147483647 9223372036854775807\n"
        #expect(fileSystem.contents(of: path) == Array(kafkaText.utf8))
        #expect(fileSystem.operations.filter { $0.touches(path) } == [.rename(path + ".tmp", to: path)])
        #expect(fileSystem.operations.last == .syncDirectory("/data/orders-0"))
        #expect(try checkpoint.read() == entries)

        try checkpoint.write([])
        #expect(fileSystem.contents(of: path) == Array("0\n0\n".utf8))
        #expect(try checkpoint.read() == [])
    }

    @Test("leader-epoch-checkpoint: malformed files are reported with their line", arguments: [
        MalformedCheckpointCase("unsupported version", "1\n0\n", line: 1),
        MalformedCheckpointCase("count mismatch", "0\n2\n0 0\n", line: 2),
        MalformedCheckpointCase("one field", "0\n1\n0\n", line: 3),
        MalformedCheckpointCase("three fields", "0\n1\n0 0 0\n", line: 3),
        MalformedCheckpointCase("double space", "0\n1\n3  100\n", line: 3),
        MalformedCheckpointCase("negative epoch", "0\n1\n-1 0\n", line: 3),
        MalformedCheckpointCase("negative start offset", "0\n1\n1 -3\n", line: 3),
        MalformedCheckpointCase("epoch beyond Int32", "0\n1\n2147483648 0\n", line: 3),
        MalformedCheckpointCase("non-numeric", "0\n1\nfive 0\n", line: 3),
        MalformedCheckpointCase("cut off", "0\n2\n0 0\n3 1", line: 4),
    ])
    func leaderEpochCheckpointMalformed(file: MalformedCheckpointCase) {
        let path = "/data/orders-0/leader-epoch-checkpoint"
        let fileSystem = TestMemoryFileSystem()
        fileSystem.seed(path, file.bytes)
        let error = #expect(throws: CheckpointError.self) {
            try LeaderEpochCheckpointFile(path: path, fileSystem: fileSystem).read()
        }
        guard case .malformed(path, let line, let reason)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(line == file.line, "\(reason)")
    }

    // MARK: TopicPartition

    @Test("directory names split at the last '-'", arguments: [
        ("my-topic-3", TopicPartition(topic: "my-topic", partition: 3)),
        ("a.b-c-0", TopicPartition(topic: "a.b-c", partition: 0)),
        ("__consumer_offsets-49", TopicPartition(topic: "__consumer_offsets", partition: 49)),
        ("topic--1", TopicPartition(topic: "topic-", partition: 1)),
        ("t-2147483647", TopicPartition(topic: "t", partition: Int32.max)),
    ])
    func directoryNames(name: String, expected: TopicPartition) {
        #expect(TopicPartition(directoryName: name) == expected)
        #expect(expected.directoryName == name)
        #expect(expected.description == name)
    }

    @Test("names that aren't partition directories don't parse", arguments: [
        "topic", "-3", "topic-", "topic-03", "topic-+1", "topic- 1", "topic-1a", "topic-2147483648",
        "orders-0.3f2a8c1e9b7d4e6f-delete", "orders-0.3f2a8c1e9b7d4e6f-future", "orders-0-stray", "",
    ])
    func invalidDirectoryNames(name: String) {
        #expect(TopicPartition(directoryName: name) == nil)
    }

    @Test("ordered by topic, then numerically by partition")
    func ordering() {
        let unsorted = [
            TopicPartition(topic: "b", partition: 0),
            TopicPartition(topic: "a", partition: 10),
            TopicPartition(topic: "a.b", partition: 0),
            TopicPartition(topic: "a", partition: 2),
            TopicPartition(topic: "a-b", partition: 0),
        ]
        #expect(unsorted.sorted() == [
            TopicPartition(topic: "a", partition: 2),
            TopicPartition(topic: "a", partition: 10),
            TopicPartition(topic: "a-b", partition: 0),
            TopicPartition(topic: "a.b", partition: 0),
            TopicPartition(topic: "b", partition: 0),
        ])
    }
}

// MARK: - An in-memory file system that records, fails and crashes

/// An in-memory ``StorageFileSystem`` for these tests: records every operation, fails a chosen one, and models
/// power loss — file data is durable once the file is synced, names (creations, renames, removals) once their
/// directory is synced; ``powerLoss()`` throws away everything else.
private final class TestMemoryFileSystem: StorageFileSystem {
    enum Operation: Equatable, Sendable, CustomTestStringConvertible {
        case open(String, create: Bool)
        case read(String)
        case write(String)
        case truncate(String, sizeBytes: Int64)
        case sync(String)
        case close(String)
        case rename(String, to: String)
        case remove(String)
        case removeTree(String)
        case createDirectory(String)
        case syncDirectory(String)

        /// Whether the operation reads or changes `path` itself (a rename changes its destination).
        func touches(_ path: String) -> Bool {
            switch self {
            case .open(let target, _), .read(let target), .write(let target), .truncate(let target, _),
                .sync(let target), .close(let target), .remove(let target), .removeTree(let target),
                .createDirectory(let target), .syncDirectory(let target):
                target == path
            case .rename(let source, let destination):
                source == path || destination == path
            }
        }

        var testDescription: String { "\(self)" }
    }

    /// The error an injected failure of `operation` throws.
    static func injectedError(_ operation: Operation) -> StorageIOError {
        StorageIOError(kind: .noSpace, operation: "injected \(operation)", path: "", errno: 28)
    }

    struct Inode: Sendable {
        var data: [UInt8]
        var durableData: [UInt8]
    }

    struct State: Sendable {
        var inodes: [Int: Inode] = [:]
        var nextInode = 0
        var names: [String: Int] = [:]
        var durableNames: [String: Int] = [:]
        var operations: [Operation] = []
        var failing: Operation?
        var crashAfterOperations: Int?
        var reportedSizes: [String: Int64] = [:]
    }

    private let state = Mutex(State())

    var operations: [Operation] { self.state.withLock { $0.operations } }

    /// Puts a durable file at `path` (not recorded).
    func seed(_ path: String, _ bytes: [UInt8]) {
        self.state.withLock { state in
            let inode = state.nextInode
            state.nextInode += 1
            state.inodes[inode] = Inode(data: bytes, durableData: bytes)
            state.names[path] = inode
            state.durableNames[path] = inode
        }
    }

    func contents(of path: String) -> [UInt8]? {
        self.state.withLock { state in state.names[path].flatMap { state.inodes[$0]?.data } }
    }

    /// Makes `size()` of `path` report `sizeBytes`.
    func reportSize(of path: String, as sizeBytes: Int64) {
        self.state.withLock { $0.reportedSizes[path] = sizeBytes }
    }

    /// Makes the next `operation` throw ``injectedError(_:)`` without doing anything.
    func fail(_ operation: Operation) {
        self.state.withLock { $0.failing = operation }
    }

    /// Lets `count` more operations through, then fails every later one, as if the process had died.
    func crash(afterOperations count: Int) {
        self.state.withLock { $0.crashAfterOperations = $0.operations.count + count }
    }

    /// Loses everything not yet durable, and lets operations through again.
    func powerLoss() {
        self.state.withLock { state in
            state.names = state.durableNames
            for (inode, var contents) in state.inodes {
                contents.data = contents.durableData
                state.inodes[inode] = contents
            }
            state.crashAfterOperations = nil
            state.operations = []
        }
    }

    /// Records `operation`, or throws if it is to fail; then runs `body` on the state.
    func perform<Value: Sendable>(
        _ operation: Operation,
        _ body: (inout State) throws(StorageIOError) -> Value
    ) throws(StorageIOError) -> Value {
        let result = self.state.withLock { state in
            Result { () throws(StorageIOError) -> Value in
                if let limit = state.crashAfterOperations, state.operations.count >= limit {
                    throw StorageIOError(kind: .other, operation: "after crash: \(operation)", path: "")
                }
                if state.failing == operation {
                    state.failing = nil
                    state.operations.append(operation)
                    throw Self.injectedError(operation)
                }
                state.operations.append(operation)
                return try body(&state)
            }
        }
        return try result.get()
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        try self.perform(.open(path, create: create)) { state throws(StorageIOError) in
            if state.names[path] == nil {
                guard create else {
                    throw StorageIOError(kind: .notFound, operation: "open", path: path, errno: 2)
                }
                let inode = state.nextInode
                state.nextInode += 1
                state.inodes[inode] = Inode(data: [], durableData: [])
                state.names[path] = inode
            }
        }
        return TestMemoryFile(path: path, fileSystem: self)
    }

    func list(_ directory: String) throws(StorageIOError) -> [String] {
        self.state.withLock { state in
            state.names.keys.filter { Self.parent(of: $0) == directory }.map { path in
                path.split(separator: "/").last.map(String.init) ?? path
            }
        }
    }

    func createDirectory(_ path: String) throws(StorageIOError) {
        try self.perform(.createDirectory(path)) { _ in }
    }

    func rename(_ source: String, to destination: String) throws(StorageIOError) {
        try self.perform(.rename(source, to: destination)) { state throws(StorageIOError) in
            guard let inode = state.names.removeValue(forKey: source) else {
                throw StorageIOError(kind: .notFound, operation: "rename", path: source, errno: 2)
            }
            state.names[destination] = inode
        }
    }

    func remove(_ path: String) throws(StorageIOError) {
        try self.perform(.remove(path)) { state throws(StorageIOError) in
            guard state.names.removeValue(forKey: path) != nil else {
                throw StorageIOError(kind: .notFound, operation: "remove", path: path, errno: 2)
            }
        }
    }

    func removeTree(_ path: String) throws(StorageIOError) {
        try self.perform(.removeTree(path)) { state in
            state.names = state.names.filter { !$0.key.hasPrefix(path + "/") && $0.key != path }
        }
    }

    func exists(_ path: String) -> Bool {
        self.state.withLock { $0.names[path] != nil }
    }

    func syncDirectory(_ path: String) throws(StorageIOError) {
        try self.perform(.syncDirectory(path)) { state in
            let inDirectory = { (name: String) in Self.parent(of: name) == path }
            state.durableNames = state.durableNames.filter { !inDirectory($0.key) }
            for (name, inode) in state.names where inDirectory(name) {
                state.durableNames[name] = inode
            }
        }
    }

    /// Runs `body` on the inode `path` names.
    func withInode<Value: Sendable>(
        _ operation: Operation,
        _ path: String,
        _ body: (inout Inode) throws(StorageIOError) -> Value
    ) throws(StorageIOError) -> Value {
        try self.perform(operation) { state throws(StorageIOError) in
            guard let inode = state.names[path], var contents = state.inodes[inode] else {
                throw StorageIOError(kind: .notFound, operation: "\(operation)", path: path, errno: 2)
            }
            let value = try body(&contents)
            state.inodes[inode] = contents
            return value
        }
    }
}

/// A file of ``TestMemoryFileSystem``; operations go to whatever inode its path names at the time, which is
/// all these tests need.
private final class TestMemoryFile: StorageFile {
    let path: String
    let fileSystem: TestMemoryFileSystem

    init(path: String, fileSystem: TestMemoryFileSystem) {
        self.path = path
        self.fileSystem = fileSystem
    }

    func leaseDescriptor() -> StorageFileLease? { nil }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try self.fileSystem.withInode(.write(self.path), self.path) { contents in
            let newBytes = Array(bytes.readableBytesView)
            let start = Int(position)
            if contents.data.count < start + newBytes.count {
                contents.data += [UInt8](repeating: 0, count: start + newBytes.count - contents.data.count)
            }
            contents.data.replaceSubrange(start..<(start + newBytes.count), with: newBytes)
        }
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer {
        try self.fileSystem.withInode(.read(self.path), self.path) { contents in
            let start = min(Int(position), contents.data.count)
            let end = min(start + count, contents.data.count)
            return ByteBuffer(bytes: contents.data[start..<end])
        }
    }

    func size() throws(StorageIOError) -> Int64 {
        // Not recorded: the interesting steps are the ones that change files.
        let sizes = self.fileSystem.sizes(of: self.path)
        guard let sizeBytes = sizes else {
            throw StorageIOError(kind: .notFound, operation: "size", path: self.path, errno: 2)
        }
        return sizeBytes
    }

    func sync() throws(StorageIOError) {
        try self.fileSystem.withInode(.sync(self.path), self.path) { contents in
            contents.durableData = contents.data
        }
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        try self.fileSystem.withInode(.truncate(self.path, sizeBytes: sizeBytes), self.path) { contents in
            let size = Int(sizeBytes)
            if contents.data.count > size {
                contents.data.removeSubrange(size...)
            } else {
                contents.data += [UInt8](repeating: 0, count: size - contents.data.count)
            }
        }
    }

    func close() throws(StorageIOError) {
        try self.fileSystem.perform(.close(self.path)) { _ in }
    }
}

extension TestMemoryFileSystem {
    /// The size `size()` reports for `path`: an override from ``reportSize(of:as:)``, or the real one.
    func sizes(of path: String) -> Int64? {
        self.state.withLock { state in
            if let reported = state.reportedSizes[path] { return reported }
            return state.names[path].flatMap { state.inodes[$0] }.map { Int64($0.data.count) }
        }
    }
}
