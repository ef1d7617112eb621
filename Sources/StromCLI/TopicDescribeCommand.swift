import ArgumentParser
import KafkaProtocol
import StromClient

/// `strom topic describe NAME`, in `kafka-topics.sh --describe`'s layout: a topic line with its
/// id, counts and the configs set on the topic, then one line per partition.
struct TopicDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a topic's partitions, leaders, replicas, in-sync replicas, id and configs.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic's name.")
    var name: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let topic = try await client.describeTopic(name)
        var configs = ""
        if client.bootstrap.apiVersions.supports(DescribeConfigsRequest.self) {
            // Only what was set on the topic, as kafka-topics shows it; defaults would drown it.
            configs = try await client.describeConfigs(.topic(name))
                .filter { $0.source == .topicConfig }
                .map { "\($0.name)=\($0.isSensitive ? "(sensitive)" : $0.value ?? "")" }
                .joined(separator: ",")
        } else {
            // The partitions are still worth showing when only the configs are unavailable.
            output.writeError("strom: configs not shown: the broker does not serve DescribeConfigs\n")
        }
        var text = "Topic: \(topic.name)\tTopicId: \(topic.topicId)\tPartitionCount: \(topic.partitions.count)"
            + "\tReplicationFactor: \(topic.replicationFactor)\tConfigs: \(configs)\n"
        for partition in topic.partitions {
            text += "\tTopic: \(topic.name)\tPartition: \(partition.partition)\tLeader: \(partition.leaderId == -1 ? "none" : "\(partition.leaderId)")"
                + "\tReplicas: \(Self.list(partition.replicas))\tIsr: \(Self.list(partition.inSyncReplicas))"
            if !partition.offlineReplicas.isEmpty { text += "\tOffline: \(Self.list(partition.offlineReplicas))" }
            if partition.errorCode != .none { text += "\tError: \(partition.errorCode.name)" }
            text += "\n"
        }
        output.write(text)
    }

    private static func list(_ nodeIds: [Int32]) -> String {
        nodeIds.map(String.init).joined(separator: ",")
    }
}
