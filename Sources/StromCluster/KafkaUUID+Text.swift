public import KafkaProtocol

extension KafkaUUID {
    /// Parses Kafka's text form of a UUID: 22 characters of URL-safe base64 without padding, what
    /// `description` prints. Only the canonical form parses (the last character's 4 unused bits are zero),
    /// so `KafkaUUID(kafkaText: id.description) == id` and no other text maps to `id`.
    public init?(kafkaText text: String) {
        let characters = Array(text.utf8)
        guard characters.count == 22 else {
            return nil
        }
        // 21 characters carry 6 bits each (126), the 22nd its top 2 bits: 128 in all, shifted into the
        // 128-bit (high, low) pair from the right.
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, character) in characters.enumerated() {
            guard let sextet = Self.base64URLValue(character) else {
                return nil
            }
            let (bits, count): (UInt8, UInt64) = index == 21 ? (sextet >> 4, 2) : (sextet, 6)
            if index == 21 && sextet & 0x0F != 0 {
                return nil
            }
            high = (high << count) | (low >> (64 - count))
            low = (low << count) | UInt64(bits)
        }
        self.init(high: high, low: low)
    }

    /// A random UUID by Kafka's rules (`Uuid.randomUuid()`): a version 4 UUID whose text form doesn't start
    /// with `-`, so it can't be mistaken for a command-line option. Version 4 also rules out
    /// ``KafkaUUID/zero`` and Kafka's reserved metadata topic id (0, 1).
    static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> KafkaUUID {
        // '-' is base64 digit 62, and the first character is the top 6 bits of high: one draw in 64 fails,
        // so a second round is rare and a third one rarer still.
        while true {
            let high = (generator.next() & ~0xF000) | 0x4000  // version 4, in bits 12-15
            let low = (generator.next() & ~(0b11 << 62)) | (0b10 << 62)  // IETF variant
            if high >> 58 != 62 {
                return KafkaUUID(high: high, low: low)
            }
        }
    }

    /// ``random(using:)`` with the system's generator.
    static func random() -> KafkaUUID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    private static func base64URLValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
