import ArgumentParser
import KafkaProtocol
import StromClient

/// `strom cluster status`: every live broker (address, rack, leaderships), the controller, and the
/// partitions that need attention — under-replicated (fewer in-sync replicas than replicas) and
/// offline (no leader) — as one Metadata request sees them.
struct ClusterStatusCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Brokers, the controller, under-replicated and offline partitions, leaders per broker.")

    @OptionGroup var connection: BootstrapOptions

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let cluster = try await client.metadata()
        output.write(Self.report(cluster))
    }

    static func report(_ cluster: ClusterDescription) -> String {
        var leaders: [Int32: Int] = [:]
        var replicaCounts: [Int32: Int] = [:]
        var underReplicated: [String] = []
        var offline: [String] = []
        var partitionCount = 0
        for topic in cluster.topics {
            for partition in topic.partitions {
                partitionCount += 1
                if partition.leaderId >= 0 { leaders[partition.leaderId, default: 0] += 1 }
                for replica in partition.replicas { replicaCounts[replica, default: 0] += 1 }
                let name = "\(topic.name)-\(partition.partition)"
                if partition.leaderId < 0 {
                    offline.append("\(name) (replicas \(list(partition.replicas)), isr \(list(partition.inSyncReplicas)))")
                } else if partition.inSyncReplicas.count < partition.replicas.count {
                    underReplicated.append("\(name) (leader \(partition.leaderId), replicas \(list(partition.replicas)), isr \(list(partition.inSyncReplicas)))")
                }
            }
        }
        var text = "Cluster: \(cluster.clusterId ?? "unknown")\tController: \(cluster.controllerId < 0 ? "none" : String(cluster.controllerId))\n"
        text += "Brokers: \(cluster.brokers.count) alive\n"
        var table = TextTable(header: ["BROKER", "ADDRESS", "RACK", "LEADERS", "REPLICAS"])
        for broker in cluster.brokers.sorted(by: { $0.nodeId < $1.nodeId }) {
            table.append([
                String(broker.nodeId) + (broker.nodeId == cluster.controllerId ? " (controller)" : ""),
                "\(broker.host):\(broker.port)", broker.rack ?? "-", String(leaders[broker.nodeId] ?? 0),
                String(replicaCounts[broker.nodeId] ?? 0),
            ])
        }
        text += table.text
        text += "Partitions: \(partitionCount), under-replicated: \(underReplicated.count), offline: \(offline.count)\n"
        for line in underReplicated { text += "  under-replicated \(line)\n" }
        for line in offline { text += "  offline \(line)\n" }
        return text
    }

    private static func list(_ nodeIds: [Int32]) -> String {
        nodeIds.map(String.init).joined(separator: ",")
    }
}
