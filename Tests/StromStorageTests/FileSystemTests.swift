import Dispatch
import NIOCore
import StromTestSupport
import Synchronization
import Testing

@testable import StromStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Helpers

enum FileSystemUnderTest: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case posix
    case simulated

    var testDescription: String { rawValue }
}

/// Runs `body` with a file system of `kind` and an empty directory in it. For POSIX the directory
/// is a fresh one under the system's temporary directory, removed afterwards whatever the outcome.
private func withFileSystem(
    _ kind: FileSystemUnderTest, _ body: (any StorageFileSystem, String) throws -> Void
) throws {
    switch kind {
    case .posix:
        let directory = try TemporaryDirectory(prefix: "strom-fs-test")
        try withExtendedLifetime(directory) { try body(PosixFileSystem(), directory.path) }
    case .simulated:
        let fileSystem = SimulatedFileSystem()
        try fileSystem.createDirectory("/strom-test")
        try body(fileSystem, "/strom-test")
    }
}

/// The error `body` throws, or nil if it returns. (Closures infer untyped `throws`, hence the cast.)
private func storageError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> StorageIOError? {
    do {
        try body()
        return nil
    } catch let error as StorageIOError {
        return error
    } catch {
        Issue.record("not a StorageIOError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

private func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

private func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

/// Writes a new file holding `content` and closes it.
private func makeFile(_ fileSystem: any StorageFileSystem, _ path: String, _ content: String) throws {
    let file = try fileSystem.open(path, create: true)
    try file.write(buffer(content), at: 0)
    try file.close()
}

private func readWholeFile(_ fileSystem: any StorageFileSystem, _ path: String) throws -> String {
    let file = try fileSystem.open(path, create: false)
    defer { try? file.close() }
    return text(try file.read(at: 0, count: Int(try file.size())))
}

// MARK: - Behaviour shared by both implementations

@Suite("StorageFileSystem behaviour, POSIX and simulated")
struct FileSystemBehaviourTests {
    @Test(arguments: FileSystemUnderTest.allCases)
    func writesAndReadsAtPositions(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/00000000000000000000.log", create: true)
            try file.write(buffer("hello"), at: 0)
            try file.write(buffer("world"), at: 5)
            try file.write(buffer("HE"), at: 0)
            #expect(text(try file.read(at: 0, count: 10)) == "HElloworld")
            #expect(text(try file.read(at: 3, count: 4)) == "lowo")

            // A write past the end leaves a hole that reads as zeros.
            try file.write(buffer("!"), at: 12)
            #expect(try file.read(at: 10, count: 3) == ByteBuffer(bytes: [0, 0, UInt8(ascii: "!")]))

            // Only the readable bytes of a buffer are written, not what precedes its reader index.
            var slice = buffer("xxabc")
            slice.moveReaderIndex(forwardBy: 2)
            try file.write(slice, at: 13)
            #expect(text(try file.read(at: 13, count: 3)) == "abc")
            #expect(try file.size() == 16)
            try file.close()

            let reopened = try fileSystem.open(root + "/00000000000000000000.log", create: false)
            #expect(text(try reopened.read(at: 0, count: 5)) == "HEllo")
            try reopened.close()
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func readPastEndReturnsFewerBytes(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/f", create: true)
            defer { try? file.close() }
            try file.write(buffer("abcdef"), at: 0)
            #expect(text(try file.read(at: 4, count: 10)) == "ef")
            #expect(try file.read(at: 6, count: 10).readableBytes == 0)
            #expect(try file.read(at: 100, count: 10).readableBytes == 0)
            #expect(try file.read(at: 0, count: 0).readableBytes == 0)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func largeWriteRoundTrips(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            var random = SplitMix64(seed: 42)
            let sizeBytes = (1 << 20) + 7
            var payload = ByteBuffer()
            payload.writeBytes((0..<sizeBytes).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            let file = try fileSystem.open(root + "/big", create: true)
            defer { try? file.close() }
            try file.write(payload, at: 0)
            #expect(try file.size() == Int64(sizeBytes))
            #expect(try file.read(at: 0, count: sizeBytes) == payload)
            #expect(try file.read(at: 1000, count: 10) == payload.getSlice(at: 1000, length: 10))
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func truncateShrinksAndExtendsWithZeros(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/f", create: true)
            defer { try? file.close() }
            try file.write(buffer("abcdef"), at: 0)
            try file.truncate(to: 3)
            #expect(try file.size() == 3)
            #expect(text(try file.read(at: 0, count: 10)) == "abc")
            try file.truncate(to: 5)
            #expect(try file.read(at: 0, count: 10) == ByteBuffer(bytes: Array("abc".utf8) + [0, 0]))
            try file.truncate(to: 0)
            #expect(try file.size() == 0)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func renameReplacesDestinationAtomically(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            try makeFile(fileSystem, root + "/checkpoint.tmp", "new")
            try makeFile(fileSystem, root + "/checkpoint", "old")
            let oldHandle = try fileSystem.open(root + "/checkpoint", create: false)
            defer { try? oldHandle.close() }

            try fileSystem.rename(root + "/checkpoint.tmp", to: root + "/checkpoint")
            #expect(!fileSystem.exists(root + "/checkpoint.tmp"))
            #expect(try readWholeFile(fileSystem, root + "/checkpoint") == "new")
            // A handle keeps the file it opened, even once its name points elsewhere.
            #expect(text(try oldHandle.read(at: 0, count: 10)) == "old")

            let missing = storageError { try fileSystem.rename(root + "/absent", to: root + "/x") }
            #expect(missing?.kind == .notFound)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func renameMovesDirectories(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            try fileSystem.createDirectory(root + "/topic-0/nested")
            try makeFile(fileSystem, root + "/topic-0/nested/f", "x")
            try fileSystem.rename(root + "/topic-0", to: root + "/topic-0.delete")
            #expect(!fileSystem.exists(root + "/topic-0"))
            #expect(try readWholeFile(fileSystem, root + "/topic-0.delete/nested/f") == "x")
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func listNamesEntries(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            #expect(try fileSystem.list(root) == [])
            try makeFile(fileSystem, root + "/a.log", "")
            try makeFile(fileSystem, root + "/a.index", "")
            try fileSystem.createDirectory(root + "/sub")
            try makeFile(fileSystem, root + "/sub/inner", "")
            #expect(try fileSystem.list(root).sorted() == ["a.index", "a.log", "sub"])
            #expect(try fileSystem.list(root + "/sub") == ["inner"])
            #expect(storageError { _ = try fileSystem.list(root + "/missing") }?.kind == .notFound)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func removeDeletesFilesAndEmptyDirectories(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            try makeFile(fileSystem, root + "/f", "x")
            try fileSystem.createDirectory(root + "/empty")
            try fileSystem.createDirectory(root + "/full")
            try makeFile(fileSystem, root + "/full/g", "y")

            try fileSystem.remove(root + "/f")
            try fileSystem.remove(root + "/empty")
            #expect(!fileSystem.exists(root + "/f"))
            #expect(!fileSystem.exists(root + "/empty"))
            #expect(storageError { try fileSystem.remove(root + "/full") }?.kind == .other)
            #expect(fileSystem.exists(root + "/full/g"))
            #expect(storageError { try fileSystem.remove(root + "/f") }?.kind == .notFound)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func removeTreeDeletesEverythingBelow(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            try fileSystem.createDirectory(root + "/t/a/b")
            try fileSystem.createDirectory(root + "/t/c")
            try makeFile(fileSystem, root + "/t/a/b/deep", "1")
            try makeFile(fileSystem, root + "/t/a/shallow", "2")
            try makeFile(fileSystem, root + "/t/top", "3")
            try makeFile(fileSystem, root + "/keep", "4")

            try fileSystem.removeTree(root + "/t")
            #expect(!fileSystem.exists(root + "/t"))
            #expect(!fileSystem.exists(root + "/t/a/b/deep"))
            #expect(try fileSystem.list(root) == ["keep"])
            #expect(storageError { try fileSystem.removeTree(root + "/t") }?.kind == .notFound)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func createDirectoryMakesParentsAndAcceptsExisting(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            try fileSystem.createDirectory(root + "/a/b/c")
            try fileSystem.createDirectory(root + "/a/b/c")
            try fileSystem.createDirectory(root + "/a/b/c/")
            #expect(fileSystem.exists(root + "/a/b/c"))
            #expect(try fileSystem.list(root + "/a") == ["b"])

            try makeFile(fileSystem, root + "/file", "x")
            #expect(storageError { try fileSystem.createDirectory(root + "/file/sub") }?.kind == .other)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func existsReportsFilesAndDirectories(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            #expect(fileSystem.exists(root))
            #expect(!fileSystem.exists(root + "/f"))
            try makeFile(fileSystem, root + "/f", "")
            #expect(fileSystem.exists(root + "/f"))
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func openingMissingFilesThrowsNotFound(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let withoutCreate = storageError { _ = try fileSystem.open(root + "/missing", create: false) }
            #expect(withoutCreate?.kind == .notFound)
            #expect(withoutCreate?.errno == ENOENT)
            #expect(withoutCreate?.operation == "open")
            #expect(withoutCreate?.path == root + "/missing")
            let inMissingDirectory = storageError { _ = try fileSystem.open(root + "/no/such", create: true) }
            #expect(inMissingDirectory?.kind == .notFound)
            #expect(!fileSystem.exists(root + "/missing"))
            #expect(storageError { try fileSystem.syncDirectory(root + "/no") }?.kind == .notFound)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func aHeadAndBodyAreWrittenBackToBack(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/f", create: true)
            try file.write(buffer("0123"), at: 0)
            let body = ByteBuffer(repeating: UInt8(ascii: "b"), count: 100_000)
            // The body is a slice of a larger buffer, as a produce request's records are.
            var request = buffer("prefix-")
            request.writeImmutableBuffer(body)
            try file.write(buffer("HEAD"), request.getSlice(at: 7, length: body.readableBytes)!, at: 4)
            #expect(try file.size() == 4 + 4 + 100_000)
            var expected = buffer("0123HEAD")
            expected.writeImmutableBuffer(body)
            #expect(try file.read(at: 0, count: 8 + 100_000) == expected)
            try file.close()
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func closedHandlesThrowClosed(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/f", create: true)
            #expect((file.leaseDescriptor() != nil) == (kind == .posix))
            try file.write(buffer("x"), at: 0)
            try file.close()

            #expect(file.leaseDescriptor() == nil)
            let errors: [StorageIOError?] = [
                storageError { try file.write(buffer("y"), at: 0) },
                storageError { _ = try file.read(at: 0, count: 1) },
                storageError { _ = try file.size() },
                storageError { try file.sync() },
                storageError { try file.truncate(to: 0) },
                storageError { try file.close() },
            ]
            for error in errors {
                #expect(error?.kind == .closed, "\(String(describing: error))")
            }
            // Closing one handle leaves the file and other handles alone.
            #expect(try readWholeFile(fileSystem, root + "/f") == "x")
        }
    }

    /// Reads may run on other threads while the owner closes the file: each read must return the
    /// right bytes or throw `.closed`, and once closed stay closed (no read of a reused descriptor).
    @Test(arguments: FileSystemUnderTest.allCases)
    func closeDuringConcurrentReadsIsSafe(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let content = buffer("0123456789abcdef")
            let file = try fileSystem.open(root + "/f", create: true)
            try file.write(content, at: 0)
            let readerCount = 4
            let readCountMax = 400
            let violations = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: readerCount + 1) { index in
                guard index < readerCount else {
                    // The closer: let the readers get going, then close under them.
                    for _ in 0..<20 { _ = try? file.read(at: 0, count: 16) }
                    do { try file.close() } catch { violations.withLock { $0.append("close: \(error)") } }
                    return
                }
                var sawClosed = false
                for readIndex in 0..<readCountMax {
                    do {
                        let bytes = try file.read(at: 0, count: 16)
                        if bytes != content || sawClosed {
                            violations.withLock { $0.append("reader \(index) read \(readIndex): \(text(bytes))") }
                        }
                    } catch let error as StorageIOError where error.kind == .closed {
                        sawClosed = true
                    } catch {
                        violations.withLock { $0.append("reader \(index) read \(readIndex): \(error)") }
                    }
                }
            }
            #expect(violations.withLock { $0 } == [])
            #expect(storageError { _ = try file.read(at: 0, count: 1) }?.kind == .closed)
        }
    }

    @Test(arguments: FileSystemUnderTest.allCases)
    func syncsSucceed(kind: FileSystemUnderTest) throws {
        try withFileSystem(kind) { fileSystem, root in
            let file = try fileSystem.open(root + "/f", create: true)
            defer { try? file.close() }
            try file.write(buffer("durable"), at: 0)
            try file.sync()
            try fileSystem.syncDirectory(root)
            #expect(text(try file.read(at: 0, count: 7)) == "durable")
        }
    }
}

// MARK: - Directory entries (POSIX only)

@Suite("PosixFileSystem directory entries")
struct DirectoryEntryTests {
    /// A directory entry as the kernel lays it out: only as long as its name, here the last bytes
    /// before an unreadable page. Reading the name must stay inside the record; copying the whole
    /// 256-byte `d_name` field faults (the crash seen with a partition of 500+ segments).
    @Test func aShortEntryAtTheEndOfReaddirsBufferIsReadInPlace() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapping = try #require(mmap(nil, 2 * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(mapping != MAP_FAILED)
        defer { munmap(mapping, 2 * pageSize) }
        #expect(mprotect(mapping + pageSize, pageSize, PROT_NONE) == 0)

        let name = "00000000000000004096.log"
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let recordLength = (nameOffset + name.utf8.count + 1 + 7) & ~7
        let record = mapping + pageSize - recordLength
        memset(record, 0, recordLength)
        name.withCString { _ = memcpy(record + nameOffset, $0, name.utf8.count) }
        #expect(recordLength < MemoryLayout<dirent>.size, "the record is shorter than struct dirent")

        #expect(PosixFileSystem.name(of: record.assumingMemoryBound(to: dirent.self)) == name)
    }

    @Test func listingADirectoryOfThousandsOfSegmentFilesNamesEachOnce() throws {
        let directory = try TemporaryDirectory(prefix: "strom-fs-list")
        let fileSystem = PosixFileSystem()
        let names = (0..<3_000).map { index in
            let offset = String(index * 4096)
            return String(repeating: "0", count: 20 - offset.count) + offset + ".log"
        }
        for name in names { _ = try fileSystem.open(directory.path + "/" + name, create: true) }
        #expect(try fileSystem.list(directory.path).sorted() == names)
    }
}

// MARK: - Power loss and faults (simulated only)

/// Random non-zero bytes, so zeros in a crashed file can only come from a zero-filled tail.
private func nonZeroChunks(_ random: inout SplitMix64, count: Int, sizeBytesMax: Int) -> [[UInt8]] {
    (0..<count).map { _ in
        (0..<(1 + random.below(sizeBytesMax))).map { _ in UInt8(1 + random.below(255)) }
    }
}

/// A file system with a durable directory `/d`.
private func simulatedWithDurableDirectory() throws -> SimulatedFileSystem {
    let fileSystem = SimulatedFileSystem()
    try fileSystem.createDirectory("/d")
    try fileSystem.syncDirectory("/")
    return fileSystem
}

private func bytes(_ buffer: ByteBuffer?) -> [UInt8]? { buffer.map { Array($0.readableBytesView) } }

@Suite("SimulatedFileSystem power loss and faults")
struct SimulatedFileSystemCrashTests {
    static let seeds: Range<UInt64> = 0..<300

    @Test func syncedDataAlwaysSurvivesCrash() throws {
        for seed in Self.seeds {
            var random = SplitMix64(seed: seed ^ 0x5EED)
            let fileSystem = try simulatedWithDurableDirectory()
            let file = try fileSystem.open("/d/00000000000000000000.log", create: true)
            try fileSystem.syncDirectory("/d")
            var synced: [UInt8] = []
            for chunk in nonZeroChunks(&random, count: 1 + random.below(8), sizeBytesMax: 64) {
                try file.write(ByteBuffer(bytes: chunk), at: Int64(synced.count))
                synced += chunk
            }
            try file.sync()
            var position = synced.count
            for chunk in nonZeroChunks(&random, count: random.below(6), sizeBytesMax: 64) {
                try file.write(ByteBuffer(bytes: chunk), at: Int64(position))
                position += chunk.count
            }

            let report = fileSystem.crash(seed: seed)
            let survivor = bytes(fileSystem.content(of: "/d/00000000000000000000.log")) ?? []
            #expect(Array(survivor.prefix(synced.count)) == synced, "seed \(seed): \(report)")
        }
    }

    @Test func unsyncedWritesSurviveAsPrefixNoneOrTorn() throws {
        var lostCount = 0
        var prefixCount = 0
        var tornCount = 0
        var zeroFilledCount = 0  // torn, and the rest of the write reads as zeros
        for seed in Self.seeds {
            var random = SplitMix64(seed: seed ^ 0xA99E4D)
            let fileSystem = try simulatedWithDurableDirectory()
            let file = try fileSystem.open("/d/f", create: true)
            try fileSystem.syncDirectory("/d")
            let base = nonZeroChunks(&random, count: 1, sizeBytesMax: 32)[0]
            try file.write(ByteBuffer(bytes: base), at: 0)
            try file.sync()
            var written = base
            var boundaries: Set<Int> = [base.count]
            for chunk in nonZeroChunks(&random, count: 1 + random.below(6), sizeBytesMax: 64) {
                try file.write(ByteBuffer(bytes: chunk), at: Int64(written.count))
                written += chunk
                boundaries.insert(written.count)
            }

            let report = fileSystem.crash(seed: seed)
            let survivor = bytes(fileSystem.content(of: "/d/f")) ?? []
            let commonCount = zip(survivor, written).prefix { $0 == $1 }.count
            let tail = survivor.dropFirst(commonCount)
            // Never garbage: what survives is a prefix of what was written, then maybe zeros.
            #expect(commonCount >= base.count, "seed \(seed): synced bytes lost: \(report)")
            #expect(tail.allSatisfy { $0 == 0 }, "seed \(seed): bytes never written: \(report)")
            #expect(survivor.count <= written.count, "seed \(seed): grew past the writes: \(report)")

            if survivor == base {
                lostCount += 1
            } else if !tail.isEmpty {
                zeroFilledCount += 1
            } else if boundaries.contains(survivor.count) {
                prefixCount += 1
            } else {
                tornCount += 1
            }
        }
        #expect(lostCount > 0, "no seed in \(Self.seeds) lost every unsynced write")
        #expect(prefixCount > 0, "no seed in \(Self.seeds) kept a whole-write prefix")
        #expect(tornCount > 0, "no seed in \(Self.seeds) tore a write and lost its tail")
        #expect(zeroFilledCount > 0, "no seed in \(Self.seeds) left a zero-filled tail")
    }

    @Test func unsyncedTruncationMayBeUndone() throws {
        var keptCount = 0
        var undoneCount = 0
        for seed in Self.seeds.prefix(100) {
            let fileSystem = try simulatedWithDurableDirectory()
            let file = try fileSystem.open("/d/f", create: true)
            try fileSystem.syncDirectory("/d")
            try file.write(buffer("abcdef"), at: 0)
            try file.sync()
            try file.truncate(to: 2)

            let report = fileSystem.crash(seed: seed)
            switch fileSystem.content(of: "/d/f").map(text) {
            case "ab": keptCount += 1
            case "abcdef": undoneCount += 1
            case let other: Issue.record("seed \(seed): \(String(describing: other)): \(report)")
            }
        }
        #expect(keptCount > 0 && undoneCount > 0, "kept \(keptCount), undone \(undoneCount)")
    }

    @Test func fileCreatedWithoutDirectorySyncMayVanish() throws {
        var vanishedCount = 0
        var survivedCount = 0
        for seed in Self.seeds.prefix(100) {
            for syncsDirectory in [false, true] {
                let fileSystem = try simulatedWithDurableDirectory()
                let file = try fileSystem.open("/d/new", create: true)
                try file.write(buffer("data"), at: 0)
                // fdatasync makes the data durable, not the name that leads to it.
                try file.sync()
                if syncsDirectory { try fileSystem.syncDirectory("/d") }

                let report = fileSystem.crash(seed: seed)
                let survivor = fileSystem.content(of: "/d/new").map(text)
                if syncsDirectory {
                    #expect(survivor == "data", "seed \(seed): \(report)")
                } else if survivor == nil {
                    vanishedCount += 1
                    #expect(!fileSystem.exists("/d/new"), "seed \(seed)")
                } else {
                    survivedCount += 1
                    #expect(survivor == "data", "seed \(seed): \(report)")
                }
            }
        }
        #expect(vanishedCount > 0 && survivedCount > 0, "vanished \(vanishedCount), survived \(survivedCount)")
    }

    @Test func renameWithoutDirectorySyncMayBeUndone() throws {
        var undoneCount = 0
        var doneCount = 0
        for seed in Self.seeds.prefix(100) {
            for syncsDirectory in [false, true] {
                let fileSystem = try simulatedWithDurableDirectory()
                for (name, content) in [("a", "A"), ("b", "B")] {
                    let file = try fileSystem.open("/d/" + name, create: true)
                    try file.write(buffer(content), at: 0)
                    try file.sync()
                }
                try fileSystem.syncDirectory("/d")
                try fileSystem.rename("/d/a", to: "/d/b")
                if syncsDirectory { try fileSystem.syncDirectory("/d") }

                let report = fileSystem.crash(seed: seed)
                let (a, b) = (fileSystem.content(of: "/d/a").map(text), fileSystem.content(of: "/d/b").map(text))
                if a == nil && b == "A" {
                    doneCount += 1
                } else {
                    undoneCount += 1
                    #expect(!syncsDirectory, "seed \(seed): synced rename undone: \(report)")
                    #expect(
                        a == "A" && b == "B",
                        "seed \(seed): a \(String(describing: a)), b \(String(describing: b)): \(report)")
                }
            }
        }
        #expect(undoneCount > 0 && doneCount > 0, "undone \(undoneCount), done \(doneCount)")
    }

    /// The checkpoint pattern: write a temporary file, sync it, rename it over the old one. Without
    /// the directory sync the old version may come back, but never a torn or empty one.
    @Test func atomicReplaceNeverLeavesATornCheckpoint() throws {
        for seed in Self.seeds.prefix(100) {
            let fileSystem = try simulatedWithDurableDirectory()
            let old = try fileSystem.open("/d/recovery-point-offset-checkpoint", create: true)
            try old.write(buffer("version 1"), at: 0)
            try old.sync()
            try fileSystem.syncDirectory("/d")
            let temporary = try fileSystem.open("/d/recovery-point-offset-checkpoint.tmp", create: true)
            try temporary.write(buffer("version 2"), at: 0)
            try temporary.sync()
            try fileSystem.rename("/d/recovery-point-offset-checkpoint.tmp", to: "/d/recovery-point-offset-checkpoint")

            let report = fileSystem.crash(seed: seed)
            let survivor = fileSystem.content(of: "/d/recovery-point-offset-checkpoint").map(text)
            #expect(survivor == "version 1" || survivor == "version 2", "seed \(seed): \(report)")
        }
    }

    @Test func removeWithoutDirectorySyncMayBeUndone() throws {
        var undoneCount = 0
        var doneCount = 0
        for seed in Self.seeds.prefix(100) {
            let fileSystem = try simulatedWithDurableDirectory()
            let file = try fileSystem.open("/d/old.log", create: true)
            try file.write(buffer("x"), at: 0)
            try file.sync()
            try fileSystem.syncDirectory("/d")
            try fileSystem.remove("/d/old.log")

            fileSystem.crash(seed: seed)
            if fileSystem.exists("/d/old.log") { undoneCount += 1 } else { doneCount += 1 }
        }
        #expect(undoneCount > 0 && doneCount > 0, "undone \(undoneCount), done \(doneCount)")
    }

    @Test func handlesAreInvalidAfterCrash() throws {
        let fileSystem = try simulatedWithDurableDirectory()
        let file = try fileSystem.open("/d/f", create: true)
        try fileSystem.syncDirectory("/d")
        try file.write(buffer("synced"), at: 0)
        try file.sync()

        fileSystem.crash(seed: 7)
        let errors: [StorageIOError?] = [
            storageError { try file.write(buffer("y"), at: 0) },
            storageError { _ = try file.read(at: 0, count: 1) },
            storageError { _ = try file.size() },
            storageError { try file.sync() },
            storageError { try file.truncate(to: 0) },
            storageError { try file.close() },
        ]
        for error in errors {
            #expect(error?.kind == .closed, "\(String(describing: error))")
        }
        let reopened = try fileSystem.open("/d/f", create: false)
        #expect(text(try reopened.read(at: 0, count: 100)) == "synced")
    }

    @Test func crashReplaysFromItsSeed() throws {
        func history(seed: UInt64) throws -> (String?, String?, String) {
            let fileSystem = try simulatedWithDurableDirectory()
            let first = try fileSystem.open("/d/first", create: true)
            let second = try fileSystem.open("/d/second", create: true)
            for index in 0..<20 {
                try first.write(buffer("first \(index);"), at: try first.size())
                try second.write(buffer("second \(index);"), at: try second.size())
                if index == 5 { try fileSystem.syncDirectory("/d") }
            }
            try fileSystem.rename("/d/second", to: "/d/third")
            let report = fileSystem.crash(seed: seed)
            let firstContent = fileSystem.content(of: "/d/first").map(text)
            return (firstContent, fileSystem.content(of: "/d/third").map(text), "\(report)")
        }
        for seed in Self.seeds.prefix(50) {
            let (firstRun, secondRun) = (try history(seed: seed), try history(seed: seed))
            #expect(firstRun == secondRun, "seed \(seed) did not replay")
        }
    }

    @Test func diskFullThrowsNoSpaceUntilCleared() throws {
        let fileSystem = try simulatedWithDurableDirectory()
        let file = try fileSystem.open("/d/f", create: true)
        fileSystem.failWrites(after: 10)
        try file.write(buffer("123456"), at: 0)

        let full = storageError { try file.write(buffer("789abc"), at: 6) }
        #expect(full?.kind == .noSpace)
        #expect(full?.errno == ENOSPC)
        #expect(full?.operation == "pwrite")
        // Like a short pwrite before ENOSPC: the bytes that fit are there.
        #expect(text(try file.read(at: 0, count: 100)) == "123456789a")
        #expect(storageError { try file.write(buffer("z"), at: 10) }?.kind == .noSpace)

        fileSystem.clearFaults()
        try file.write(buffer("bc"), at: 10)
        #expect(text(try file.read(at: 0, count: 100)) == "123456789abc")

        fileSystem.failWrites(after: 0, kind: .other)
        #expect(storageError { try file.write(buffer("!"), at: 0) }?.kind == .other)
    }

    @Test func failedSyncLeavesDataUnsynced() throws {
        let fileSystem = try simulatedWithDurableDirectory()
        let faulty = try fileSystem.open("/d/faulty", create: true)
        let healthy = try fileSystem.open("/d/healthy", create: true)
        try fileSystem.syncDirectory("/d")
        try faulty.write(buffer("data"), at: 0)
        try healthy.write(buffer("data"), at: 0)

        fileSystem.failSync("/d/faulty")
        #expect(storageError { try faulty.sync() }?.kind == .other)
        try healthy.sync()
        #expect(bytes(fileSystem.durableContent(of: "/d/faulty")) == [])
        #expect(fileSystem.durableContent(of: "/d/healthy").map(text) == "data")

        fileSystem.failSync()
        #expect(storageError { try fileSystem.syncDirectory("/d") }?.kind == .other)
        #expect(storageError { try healthy.sync() }?.kind == .other)

        fileSystem.clearFaults()
        try faulty.sync()
        try fileSystem.syncDirectory("/d")
        #expect(fileSystem.durableContent(of: "/d/faulty").map(text) == "data")
    }

    @Test func inspectionShowsDurableAndVolatileContent() throws {
        let fileSystem = try simulatedWithDurableDirectory()
        let file = try fileSystem.open("/d/f", create: true)
        try file.write(buffer("abc"), at: 0)
        #expect(fileSystem.content(of: "/d/f").map(text) == "abc")
        // The name is not durable yet, so neither is any content under it.
        #expect(fileSystem.durableContent(of: "/d/f") == nil)
        try fileSystem.syncDirectory("/d")
        #expect(bytes(fileSystem.durableContent(of: "/d/f")) == [])
        try file.sync()
        #expect(fileSystem.durableContent(of: "/d/f").map(text) == "abc")
        #expect(fileSystem.content(of: "/d/missing") == nil)
        #expect(fileSystem.content(of: "/d") == nil)
    }
}
