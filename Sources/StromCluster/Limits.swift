/// Every bound StromCluster enforces, with where its number comes from.
enum Limits {
    /// The most partitions one topic may have, at creation or after CreatePartitions. Kafka's controller
    /// refuses to create more than 10,000 partitions in one request (`MAX_PARTITIONS_PER_BATCH` in
    /// `ReplicationControlManager`, the same number as `QuorumController.MAX_RECORDS_PER_USER_OP`), so no
    /// Kafka client expects more in one topic.
    static let partitionCountMax: Int32 = 10_000

    /// How many changes a ``MetadataStore/changes()`` subscriber may fall behind before its stream is ended
    /// (it then subscribes again and starts from a fresh snapshot). A change is one topic's metadata, so the
    /// buffer holds at most this many topics' worth of memory per subscriber; a broker applies changes as
    /// they arrive and never comes near it.
    static let changesBufferedMax = 1_024

    /// The largest metadata file read at start. A topic with ten partitions takes about 1 KiB of JSON, so
    /// this is room for some 250,000 such topics; the bound stops a wrong or damaged file from being read
    /// into memory whole.
    static let metadataFileSizeBytesMax: Int64 = 256 * 1024 * 1024

    /// How many random topic ids are drawn before giving up on finding an unused one. With 122 random bits
    /// a second draw is already astronomically unlikely; the bound only turns a broken generator into an
    /// error instead of a hang.
    static let topicIdAttemptsMax = 8
}
