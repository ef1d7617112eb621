import StromBroker

/// What the console's pages count of a topic and its partitions, in one place.
extension TopicView.Partition {
    /// No leader, or this broker took its log offline.
    var isOffline: Bool { leader < 0 || offlineReason != nil }
    var isUnderReplicated: Bool { inSyncReplicas.count < replicas.count }
    /// Records between the log start and end offsets this broker knows (0 without a replica here).
    var records: Int64 { max(0, (logEndOffset ?? 0) - (logStartOffset ?? 0)) }
}

extension TopicView {
    var sizeBytes: Int64 { partitions.reduce(0) { $0 + ($1.sizeBytes ?? 0) } }
    var records: Int64 { partitions.reduce(0) { $0 + $1.records } }
    var replicationFactor: Int { partitions.map(\.replicas.count).max() ?? 0 }
    var offlineCount: Int { partitions.filter(\.isOffline).count }
    var underReplicatedCount: Int { partitions.filter(\.isUnderReplicated).count }
}
