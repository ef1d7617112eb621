import KafkaProtocol

/// A share-partition leader's persister when the share coordinator of every key is this broker
/// (a broker alone leads all of `__share_group_state`).
struct LocalShareStatePersister: ShareStatePersister {
    let coordinator: ShareCoordinator

    func read(_ key: ShareStateKey, leaderEpoch: Int32) async -> Result<ShareStateShard.State?, KafkaErrorCode> {
        await coordinator.read(key, leaderEpoch: leaderEpoch)
    }

    func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) async -> KafkaErrorCode {
        await coordinator.write(key, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset, batches: batches)
    }
}
