internal import KafkaProtocol
internal import NIOCore

/// The requests of one connection between "frame read" and "response written", in request order.
///
/// Kafka clients match responses to requests by position as much as by correlation id (the Java
/// client asserts the next response's correlation id equals the oldest in-flight request's), so a
/// response may only be written once every earlier one has been. Processing finishes in any order;
/// this queue holds finished responses until their turn. Its length is bounded by
/// ``KafkaServerConfiguration/inFlightRequestsMax`` because the handler stops reading at the bound.
struct PendingResponses {
    enum Progress {
        /// Being processed; the task is cancelled if the connection closes first.
        case processing(Task<Void, Never>)
        case ready(KafkaResponseAction)
    }

    struct Entry {
        /// Raw, because an unknown key never gets this far but logs want the wire value.
        var apiKey: Int16
        var apiVersion: Int16
        var correlationId: Int32
        var progress: Progress
    }

    /// Oldest first; `entries[i]` has sequence number `headSequence + i`.
    private var entries: CircularBuffer<Entry>
    /// Sequence number of `entries.first`; sequence numbers count the connection's requests from 0.
    private(set) var headSequence: UInt64 = 0

    init(capacity: Int) {
        self.entries = CircularBuffer(initialCapacity: capacity)
    }

    var count: Int { self.entries.count }
    var isEmpty: Bool { self.entries.isEmpty }
    /// The sequence number the next appended request gets.
    var nextSequence: UInt64 { self.headSequence + UInt64(self.entries.count) }

    /// Adds the newest request; its sequence number is the ``nextSequence`` read before the call.
    mutating func append(_ entry: Entry) {
        self.entries.append(entry)
    }

    /// Records the response of request `sequence`.
    /// - Returns: false when the request is no longer here (its connection was torn down).
    mutating func complete(sequence: UInt64, with action: KafkaResponseAction) -> Bool {
        guard sequence >= self.headSequence, sequence < self.nextSequence else { return false }
        let index = self.entries.index(self.entries.startIndex, offsetBy: Int(sequence - self.headSequence))
        guard case .processing = self.entries[index].progress else {
            // Each request completes once; a second completion is a bug in this file.
            preconditionFailure("request \(sequence) completed twice")
        }
        self.entries[index].progress = .ready(action)
        return true
    }

    /// Removes and returns the oldest request if its response is ready, so responses leave in order.
    mutating func popFirstReady() -> (entry: Entry, action: KafkaResponseAction)? {
        guard let first = self.entries.first, case .ready(let action) = first.progress else { return nil }
        self.entries.removeFirst()
        self.headSequence += 1
        return (first, action)
    }

    /// Removes everything (the connection is closing); the caller cancels and discards.
    mutating func removeAll() -> [Entry] {
        let removed = Array(self.entries)
        self.headSequence += UInt64(self.entries.count)
        self.entries.removeAll(keepingCapacity: false)
        return removed
    }
}
