import StromCluster

/// Hands out producer ids (InitProducerId) from blocks reserved in the metadata, so the metadata
/// is written once per thousand producers, and no id is ever given twice, restarts included.
actor ProducerIdBlock {
    static let blockSize = 1_000

    private let metadata: any MetadataStore
    private var block: Range<Int64> = 0..<0

    init(metadata: any MetadataStore) {
        self.metadata = metadata
    }

    func next() async throws(MetadataError) -> Int64 {
        if block.isEmpty {
            block = try await metadata.allocateProducerIds(count: Self.blockSize)
        }
        let id = block.lowerBound
        block = block.dropFirst()
        return id
    }
}
