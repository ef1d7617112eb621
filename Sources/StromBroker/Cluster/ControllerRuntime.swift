import Logging
import StromCluster
import StromStorage

/// The controller's runtime on every broker: it campaigns for the controller key in etcd, and
/// while it holds it, it keeps every partition led — when a broker's registration goes (its lease
/// expired), each partition it led gets a new leader from the ISR and it leaves every ISR; a
/// leaderless partition gets a leader as soon as an in-sync replica is back. The decisions are
/// ``PartitionElection``'s, functions of the image, so a controller that takes over simply decides
/// again from what etcd holds. Each batch of changes is committed with a compare on every
/// partition's state and on this controller's epoch, so a deposed controller changes nothing.
actor ControllerRuntime {
    let store: EtcdMetadataStore
    let logger: Logger
    /// This broker's controller epoch while it is the controller.
    private(set) var epoch: Int64?
    private var task: Task<Void, Never>?
    /// How often a broker that is not the controller tries for the key (it also tries on every
    /// metadata change, so it takes over as soon as the key's lease expires).
    static let campaignInterval: Duration = .milliseconds(500)

    init(store: EtcdMetadataStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    var isController: Bool { epoch != nil }

    func start() async {
        let changes = await store.changes()
        let (ticks, tick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let forwarder = Task {
            for await _ in changes { tick.yield() }
        }
        let timer = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.campaignInterval)
                tick.yield()
            }
        }
        task = Task { [weak self] in
            await withTaskCancellationHandler {
                for await _ in ticks {
                    guard let self else { return }
                    await self.step()
                }
            } onCancel: {
                forwarder.cancel()
                timer.cancel()
                tick.finish()
            }
        }
    }

    /// Stops deciding; a controller gives up its key so another broker takes over at once.
    func stop() async {
        task?.cancel()
        task = nil
        if let epoch { await store.resignController(epoch: epoch) }
        epoch = nil
    }

    /// Campaigns if there is no controller, then (as the controller) decides.
    private func step() async {
        let image = await store.image()
        if let epoch, image.controllerId != store.nodeId, image.controllerId != -1 {
            logger.warning("no longer the controller (epoch \(epoch)); broker \(image.controllerId) is")
            self.epoch = nil
        }
        if epoch == nil, image.controllerId == -1 || image.controllerId == store.nodeId {
            if let won = try? await store.campaignForController() {
                epoch = won
                logger.notice("this broker is the controller (epoch \(won))")
            }
        }
        guard let epoch else { return }
        let decisions = Self.decide(await store.image())
        guard !decisions.isEmpty else { return }
        for decision in decisions where decision.isUnclean {
            logger.warning("unclean leader election: \(decision.change.topic)-\(decision.change.new.partition) led by out-of-sync replica \(decision.change.new.leader); records acknowledged by the old in-sync replicas may be lost")
        }
        do {
            let started = ContinuousClock.now
            let committed = try await store.alterPartitions(decisions.map { ($0.change.topic, $0.change.expected, $0.change.new) }, controllerEpoch: epoch)
            let count = committed.filter { $0 }.count
            logger.info("controller changed \(count) of \(decisions.count) partitions (leaders and in-sync replicas) in \(ContinuousClock.now - started)")
        } catch {
            logger.warning("controller could not commit partition changes: \(error)")
        }
    }

    struct Decision: Sendable {
        var change: PartitionStateChange
        var isUnclean: Bool
    }

    /// Every partition whose leader or ISR must change for the live brokers of `image`, those
    /// whose leader changes first.
    static func decide(_ image: MetadataImage) -> [Decision] {
        let live = Set(image.brokers.map(\.nodeId))
        let uncleanDefault = image.brokerConfigs[""]?["unclean.leader.election.enable"].flatMap { Bool($0) } ?? false
        var decisions: [Decision] = []
        for topic in image.topics {
            let unclean = topic.configs["unclean.leader.election.enable"].flatMap { Bool($0) } ?? uncleanDefault
            for partition in topic.partitions {
                var assignment = partition
                var isUnclean = false
                for replica in partition.replicas where !live.contains(replica) {
                    if let decision = PartitionElection.brokerFenced(replica, in: assignment, liveBrokers: live, uncleanElectionAllowed: unclean) {
                        assignment = decision.assignment
                        isUnclean = isUnclean || decision.isUnclean
                    }
                }
                if assignment.leader == -1 || !live.contains(assignment.leader) {
                    for replica in assignment.replicas where live.contains(replica) {
                        if let decision = PartitionElection.brokerUnfenced(replica, in: assignment, liveBrokers: live, uncleanElectionAllowed: unclean) {
                            assignment = decision.assignment
                            isUnclean = isUnclean || decision.isUnclean
                            break
                        }
                    }
                }
                if assignment != partition {
                    decisions.append(Decision(change: PartitionStateChange(topic: topic.name, expected: partition, new: assignment), isUnclean: isUnclean))
                }
            }
        }
        // New leaders first: they end unavailability, while an ISR that only loses a dead member
        // changes nothing clients see. (A broker gone from a 3-broker cluster with replication
        // factor 3 is in every ISR: 10,000 changes, of which a third elect.)
        let electing = decisions.filter { $0.change.new.leader != $0.change.expected.leader }
        return electing + decisions.filter { $0.change.new.leader == $0.change.expected.leader }
    }
}
