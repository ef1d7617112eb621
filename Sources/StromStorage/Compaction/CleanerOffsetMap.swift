import KafkaProtocol
import NIOCore

// MARK: - The offset map

/// Key → latest offset over a clean's dirty part, in memory bounded up front: open addressing over
/// flat arrays, keys copied into one byte arena, so an entry costs no allocation of its own.
/// Hashes use the standard library's per-process seeded `Hasher`, so clients cannot aim collisions;
/// keys are compared byte for byte, so a collision costs a probe, never a wrong answer.
struct CleanerOffsetMap: Sendable {
    let entriesMax: Int
    let keyBytesMax: Int
    /// Slot → entry index, -1 when free. The count is a power of two.
    private var slots: [Int32] = []
    private var hashes: [Int] = []
    private var offsets: [Int64] = []
    private var keyStarts: [Int32] = []
    private var keyLengths: [Int32] = []
    private var keyBytes: [UInt8] = []

    init(entriesMax: Int, keyBytesMax: Int) {
        precondition(entriesMax >= 1 && entriesMax < Int(Int32.max), "entriesMax \(entriesMax) out of range")
        self.entriesMax = entriesMax
        self.keyBytesMax = keyBytesMax
    }

    var count: Int { offsets.count }

    /// Records `offset` as the latest for `key`. Returns false, changing nothing, when `key` is new
    /// and the map is full.
    mutating func put(key: ByteBuffer, offset: Int64) -> Bool {
        let hash = Self.hash(key)
        if let entry = find(key, hash: hash) {
            offsets[entry] = max(offsets[entry], offset)
            return true
        }
        let fitsBytes = count == 0 || keyBytes.count + key.readableBytes <= keyBytesMax
        guard count < entriesMax, fitsBytes, keyBytes.count + key.readableBytes <= Int(Int32.max) else { return false }
        // Keep the load at most 3/4 so that probes stay short.
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let entry = Int32(count)
        hashes.append(hash)
        offsets.append(offset)
        keyStarts.append(Int32(keyBytes.count))
        keyLengths.append(Int32(key.readableBytes))
        keyBytes.append(contentsOf: key.readableBytesView)
        insert(entry: entry, hash: hash)
        return true
    }

    /// The latest offset recorded for `key`.
    func offset(for key: ByteBuffer) -> Int64? {
        guard count > 0, let entry = find(key, hash: Self.hash(key)) else { return nil }
        return offsets[entry]
    }

    private static func hash(_ key: ByteBuffer) -> Int {
        var hasher = Hasher()
        key.withUnsafeReadableBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    private func find(_ key: ByteBuffer, hash: Int) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = hash & mask
        // Bounded: the table always has free slots, and each probe moves to the next one.
        for _ in 0..<slots.count {
            let entry = Int(slots[slot])
            if entry < 0 { return nil }
            if hashes[entry] == hash && keyEquals(entry, key) { return entry }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private func keyEquals(_ entry: Int, _ key: ByteBuffer) -> Bool {
        let length = Int(keyLengths[entry])
        guard length == key.readableBytes else { return false }
        let start = Int(keyStarts[entry])
        return keyBytes[start..<(start + length)].elementsEqual(key.readableBytesView)
    }

    private mutating func insert(entry: Int32, hash: Int) {
        let mask = slots.count - 1
        var slot = hash & mask
        for _ in 0..<slots.count {
            if slots[slot] < 0 {
                slots[slot] = entry
                return
            }
            slot = (slot + 1) & mask
        }
        preconditionFailure("offset map has no free slot at \(count) of \(slots.count)")
    }

    private mutating func grow() {
        let capacity = Swift.max(64, slots.count * 2)
        slots = Array(repeating: -1, count: capacity)
        for entry in 0..<count { insert(entry: Int32(entry), hash: hashes[entry]) }
    }
}
