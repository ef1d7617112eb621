import NIOCore
@testable import KafkaProtocol
import StromTestSupport

/// What the generator emits for every message, header and record type.
protocol ArbitraryKafkaMessage: KafkaVersionedMessage {
    static func arbitrary(version: Int16, using rng: inout SplitMix64) -> Self
    func projected(version: Int16) -> Self
}
