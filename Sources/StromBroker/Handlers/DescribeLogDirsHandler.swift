import Foundation
import KafkaProtocol
import StromStorage

/// DescribeLogDirs: the one data directory, the size of each requested partition's log, and
/// (v4+) the file system's total and usable bytes.
struct DescribeLogDirsHandler: Sendable {
    let broker: Broker

    func handle(_ request: DescribeLogDirsRequest, version: Int16) -> DescribeLogDirsResponse {
        let image = broker.partitions.current
        // nil asks for every partition; otherwise only the named ones that exist are listed.
        let wanted: [(String, [Int32])] = request.topics.map { topics in
            topics.map { ($0.topic, $0.partitions) }
        } ?? image.topics.map { topic in (topic.name, topic.partitions.map(\.partition)) }
        var topics: [DescribeLogDirsResponse.DescribeLogDirsTopic] = []
        for (name, partitionIndexes) in wanted {
            let partitions = partitionIndexes.compactMap { index -> DescribeLogDirsResponse.DescribeLogDirsPartition? in
                guard let log = broker.partitions.log(topic: name, partition: index) else { return nil }
                return .init(partitionIndex: index, partitionSize: log.sizeBytes, offsetLag: 0, isFutureKey: false)
            }
            if !partitions.isEmpty { topics.append(.init(name: name, partitions: partitions)) }
        }
        let directory = URL(fileURLWithPath: broker.configuration.dataDirectory).standardizedFileURL.path
        var result = DescribeLogDirsResponse.DescribeLogDirsResult(logDir: directory, topics: topics)
        if version >= 4, let space = Self.space(of: directory) {
            result.totalBytes = space.total
            result.usableBytes = space.usable
        }
        return DescribeLogDirsResponse(results: [result])
    }

    private static func space(of path: String) -> (total: Int64, usable: Int64)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let blockSize = Int64(stats.f_frsize)
        return (Int64(stats.f_blocks) * blockSize, Int64(stats.f_bavail) * blockSize)
    }
}
