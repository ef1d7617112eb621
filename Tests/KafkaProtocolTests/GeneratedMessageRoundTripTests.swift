import NIOCore
import Testing
@testable import KafkaProtocol
import StromTestSupport

/// Every generated type, at every valid version: random values round-trip to exactly what the
/// version can carry, consuming every byte.
@Suite struct GeneratedMessageRoundTripTests {
    static let roundsPerVersion = 25

    @Test(arguments: allGeneratedMessageTypes.map { TypeName(type: $0) })
    func roundTripsAtEveryVersion(_ name: TypeName) throws {
        try Self.check(name.type)
    }

    private static func check<Message: ArbitraryKafkaMessage>(_ type: Message.Type) throws {
        for version in Message.validVersions {
            for round in 0..<roundsPerVersion {
                let seed = nameHash(String(describing: Message.self)) ^ (UInt64(UInt16(bitPattern: version)) << 32 | UInt64(round))
                var rng = SplitMix64(seed: seed)
                let value = Message.arbitrary(version: version, using: &rng)
                let context = "\(Message.self) v\(version) seed \(seed)"
                var buffer = try value.encoded(version: version)
                let encodedBytes = buffer.readableBytes
                let decoded = try Message(from: &buffer, version: version)
                #expect(buffer.readableBytes == 0, "\(context): \(buffer.readableBytes) bytes left of \(encodedBytes)")
                #expect(decoded == value.projected(version: version), "\(context): round trip differs")
                // Encoding what was decoded gives the same bytes again.
                let again = try decoded.encoded(version: version)
                #expect(again.readableBytes == encodedBytes, "\(context): re-encoding changed the size")
            }
        }
    }
}

/// Wraps a metatype so Swift Testing can name each argument.
struct TypeName: CustomTestStringConvertible, Sendable {
    let type: any ArbitraryKafkaMessage.Type
    var testDescription: String { String(describing: type) }
}

/// FNV-1a, so that each type gets its own stable seeds (Swift's hashValue changes per process).
func nameHash(_ name: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}
