import KafkaProtocol

/// Idempotent producers' state in one partition: per producer id, its epoch and the sequence
/// ranges of its last five batches (Kafka's `max.in.flight.requests.per.connection` bound for
/// idempotence), so that a retried batch is recognised and answered with its first offsets
/// instead of being appended twice, and a gap in the sequence is refused.
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
    }

    /// Batches remembered per producer, as in Kafka.
    static let batchesKept = 5

    private(set) var producers: [Int64: Producer] = [:]

    /// Whether `header` is subject to the checks: written by an idempotent producer, not a marker.
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
    ///   epoch; ``LogAppendError/outOfOrderSequence(producerId:expected:received:)`` for a gap.
    func check(_ header: RecordBatchHeader) throws(LogAppendError) -> WrittenBatch? {
        guard Self.applies(to: header), let producer = producers[header.producerId] else {
            // A producer this partition has not seen (or has forgotten) starts where it says.
            return nil
        }
        if header.producerEpoch < producer.epoch {
            throw .invalidProducerEpoch(producerId: header.producerId, epoch: header.producerEpoch, currentEpoch: producer.epoch)
        }
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

    /// Forgets the batches at or past `offset` (the log was truncated there); a producer with none
    /// left is forgotten (it starts where it says, as an unknown one does).
    mutating func forget(from offset: Int64) {
        for (producerId, producer) in producers {
            let kept = producer.batches.filter { $0.firstOffset < offset }
            if kept.isEmpty {
                producers[producerId] = nil
            } else if kept.count != producer.batches.count {
                producers[producerId] = Producer(epoch: producer.epoch, batches: kept)
            }
        }
    }

    /// Records a batch appended at `header.baseOffset`.
    mutating func record(_ header: RecordBatchHeader) {
        guard Self.applies(to: header) else { return }
        var producer = producers[header.producerId] ?? Producer(epoch: header.producerEpoch, batches: [])
        if header.producerEpoch != producer.epoch {
            producer = Producer(epoch: header.producerEpoch, batches: [])
        }
        producer.batches.append(WrittenBatch(
            firstSequence: header.baseSequence, lastSequence: Self.lastSequence(of: header),
            firstOffset: header.baseOffset, lastOffset: header.lastOffset))
        if producer.batches.count > Self.batchesKept { producer.batches.removeFirst(producer.batches.count - Self.batchesKept) }
        producers[header.producerId] = producer
    }
}
