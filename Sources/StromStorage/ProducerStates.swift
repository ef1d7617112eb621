import KafkaProtocol

/// Producers' state in one partition (Kafka's `ProducerStateManager`): per producer id, its epoch
/// and the sequence ranges of its last five batches (Kafka's `max.in.flight.requests.per.connection`
/// bound for idempotence), so that a retried batch is recognised and answered with its first
/// offsets instead of being appended twice, and a gap in the sequence is refused; and the
/// transactions open in the partition, which hold the last stable offset back until their marker.
struct ProducerStates: Sendable {
    /// A batch a producer already wrote.
    struct WrittenBatch: Sendable, Equatable {
        var firstSequence: Int32
        var lastSequence: Int32
        var firstOffset: Int64
        var lastOffset: Int64
    }

    struct Producer: Sendable, Equatable {
        var epoch: Int16
        var batches: [WrittenBatch]
        /// The first offset of this producer's open transaction here, if one is open.
        var transactionFirstOffset: Int64? = nil
        /// The coordinator epoch of the last marker (Kafka keeps it to refuse a stale coordinator's).
        var coordinatorEpoch: Int32 = -1
        /// The largest timestamp of its last data batch (DescribeProducers).
        var lastTimestampMs: Int64 = -1
    }

    /// A transaction whose marker was appended.
    struct EndedTransaction: Sendable, Equatable {
        var producerId: Int64
        var firstOffset: Int64
        var markerOffset: Int64
        var aborted: Bool
    }

    /// Batches remembered per producer, as in Kafka.
    static let batchesKept = 5

    private(set) var producers: [Int64: Producer] = [:]
    /// Open transactions by producer id: their first offsets bound the last stable offset.
    private(set) var openTransactions: [Int64: Int64] = [:]
    /// Ended transactions whose marker is not yet below the high watermark: until it is, a
    /// replica that takes over may not have the marker, so they still bound the last stable offset.
    private(set) var endingTransactions: [EndedTransaction] = []

    init() {}

    /// The state a snapshot kept (no transaction is ending: the high watermark is recomputed on open).
    init(producers: [Int64: Producer]) {
        self.producers = producers
        for (producerId, producer) in producers {
            if let first = producer.transactionFirstOffset { openTransactions[producerId] = first }
        }
    }

    /// Whether `header` is subject to the sequence checks: written by an idempotent producer, not a marker.
    static func applies(to header: RecordBatchHeader) -> Bool {
        header.producerId >= 0 && header.baseSequence >= 0 && !header.attributes.isControl
    }

    static func lastSequence(of header: RecordBatchHeader) -> Int32 {
        // Sequences wrap from Int32.max to 0, as in Kafka.
        let last = Int64(header.baseSequence) + Int64(header.lastOffsetDelta)
        return Int32(last > Int64(Int32.max) ? last - Int64(Int32.max) - 1 : last)
    }

    /// Checks `header` against what its producer wrote before.
    /// - Returns: the earlier copy when `header` is a retry of a batch already written.
    /// - Throws: ``LogAppendError/invalidProducerEpoch(producerId:epoch:currentEpoch:)`` for a fenced
    ///   epoch (a marker's too); ``LogAppendError/outOfOrderSequence(producerId:expected:received:)``
    ///   for a gap; ``LogAppendError/invalidTransactionState(producerId:)`` for a plain batch from
    ///   a producer whose transaction is open.
    func check(_ header: RecordBatchHeader) throws(LogAppendError) -> WrittenBatch? {
        if header.attributes.isControl {
            if let producer = producers[header.producerId], header.producerEpoch < producer.epoch {
                throw .invalidProducerEpoch(producerId: header.producerId, epoch: header.producerEpoch, currentEpoch: producer.epoch)
            }
            return nil
        }
        guard header.producerId >= 0, let producer = producers[header.producerId] else {
            // A producer this partition has not seen (or has forgotten) starts where it says.
            return nil
        }
        // Every batch of a producer is fenced by a newer epoch, with a sequence or not (the group
        // coordinator writes a transaction's offsets without one).
        if header.producerEpoch < producer.epoch {
            throw .invalidProducerEpoch(producerId: header.producerId, epoch: header.producerEpoch, currentEpoch: producer.epoch)
        }
        if !header.attributes.isTransactional, producer.transactionFirstOffset != nil {
            throw .invalidTransactionState(producerId: header.producerId)
        }
        guard Self.applies(to: header) else { return nil }
        if header.producerEpoch > producer.epoch {
            // A new epoch starts its sequence again at 0.
            guard header.baseSequence == 0 else {
                throw .outOfOrderSequence(producerId: header.producerId, expected: 0, received: header.baseSequence)
            }
            return nil
        }
        let lastSequence = Self.lastSequence(of: header)
        if let written = producer.batches.first(where: { $0.firstSequence == header.baseSequence && $0.lastSequence == lastSequence }) {
            return written
        }
        let expected = producer.batches.last.map { $0.lastSequence == Int32.max ? 0 : $0.lastSequence + 1 } ?? 0
        guard header.baseSequence == expected else {
            throw .outOfOrderSequence(producerId: header.producerId, expected: expected, received: header.baseSequence)
        }
        return nil
    }

    /// Whether the producer has a transaction open here (KIP-890: its next transactional batch
    /// needs no verification with the coordinator).
    func hasOpenTransaction(producerId: Int64, epoch: Int16) -> Bool {
        guard let producer = producers[producerId] else { return false }
        return producer.epoch == epoch && producer.transactionFirstOffset != nil
    }

    /// Records a batch appended at `header.baseOffset`; `marker` is the control record type of a
    /// control batch. Returns the transaction a marker ended (nil when the producer had written
    /// nothing in it here: markers go to every partition of the transaction).
    @discardableResult
    mutating func record(_ header: RecordBatchHeader, marker: ControlRecordType? = nil) -> EndedTransaction? {
        if header.attributes.isControl {
            guard header.producerId >= 0, let marker else { return nil }
            var producer = producers[header.producerId] ?? Producer(epoch: header.producerEpoch, batches: [])
            if header.producerEpoch > producer.epoch {
                // A marker of a bumped epoch (a fenced producer's transaction aborted): the old
                // epoch is refused from now on and the new one starts at sequence 0.
                producer.epoch = header.producerEpoch
                producer.batches = []
            }
            var ended: EndedTransaction?
            if let first = producer.transactionFirstOffset {
                ended = EndedTransaction(producerId: header.producerId, firstOffset: first, markerOffset: header.baseOffset, aborted: marker == .abort)
                endingTransactions.append(ended!)
            }
            producer.transactionFirstOffset = nil
            openTransactions[header.producerId] = nil
            producers[header.producerId] = producer
            return ended
        }
        guard Self.applies(to: header) || (header.producerId >= 0 && header.attributes.isTransactional) else { return nil }
        var producer = producers[header.producerId] ?? Producer(epoch: header.producerEpoch, batches: [])
        if header.producerEpoch != producer.epoch {
            producer = Producer(
                epoch: header.producerEpoch, batches: [], transactionFirstOffset: producer.transactionFirstOffset,
                coordinatorEpoch: producer.coordinatorEpoch, lastTimestampMs: producer.lastTimestampMs)
        }
        producer.lastTimestampMs = header.maxTimestamp
        if Self.applies(to: header) {
            producer.batches.append(WrittenBatch(
                firstSequence: header.baseSequence, lastSequence: Self.lastSequence(of: header),
                firstOffset: header.baseOffset, lastOffset: header.lastOffset))
            if producer.batches.count > Self.batchesKept { producer.batches.removeFirst(producer.batches.count - Self.batchesKept) }
        }
        if header.attributes.isTransactional, producer.transactionFirstOffset == nil {
            producer.transactionFirstOffset = header.baseOffset
            openTransactions[header.producerId] = header.baseOffset
        }
        producers[header.producerId] = producer
        return nil
    }

    /// The first offset a read_committed consumer may not read yet, given the high watermark: the
    /// start of the oldest transaction that is open or whose marker is not yet below it. Nil
    /// when none (the last stable offset is the high watermark).
    mutating func firstUnstableOffset(highWatermark: Int64) -> Int64? {
        if !endingTransactions.isEmpty { endingTransactions.removeAll { $0.markerOffset < highWatermark } }
        if openTransactions.isEmpty && endingTransactions.isEmpty { return nil }
        return min(openTransactions.values.min() ?? .max, endingTransactions.map(\.firstOffset).min() ?? .max)
    }
}
