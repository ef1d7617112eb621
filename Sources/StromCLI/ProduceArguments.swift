import ArgumentParser
import KafkaProtocol
import StromClient

/// `--acks -1|0|1|all`.
struct AcksArgument: ExpressibleByArgument, Hashable {
    var acks: ProduceAcks

    init(_ acks: ProduceAcks) { self.acks = acks }

    init?(argument: String) {
        switch argument {
        case "-1", "all": acks = .all
        case "0": acks = .unacknowledged
        case "1": acks = .leader
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["-1", "0", "1", "all"] }
    var defaultValueDescription: String { "\(acks.rawValue)" }
}

/// `--compression none|gzip|snappy|lz4|zstd`.
enum CompressionArgument: String, ExpressibleByArgument, CaseIterable {
    case none, gzip, snappy, lz4, zstd

    var codec: CompressionCodec {
        switch self {
        case .none: .none
        case .gzip: .gzip
        case .snappy: .snappy
        case .lz4: .lz4
        case .zstd: .zstd
        }
    }
}
