import ArgumentParser
import NIOCore
import StromClient

/// `strom consume --format`: how each record is printed. `%k` key, `%v` value, `%o` offset,
/// `%p` partition, `%t` timestamp (ms), `%d` delivery count (share groups), `%h` headers (`key=value` joined by `,`; a header
/// without a value prints its key alone), `%T` topic, `%%` a percent sign; `\n`, `\t` and `\\`
/// are escapes. A null key or value prints as `null`, as Kafka's console consumer does. Each
/// record ends with a newline.
struct RecordFormat {
    enum Piece: Equatable {
        case literal(String)
        case key, value, offset, partition, timestamp, headers, topic, deliveryCount
    }

    let pieces: [Piece]

    /// - Throws: `ValidationError` naming an unknown directive.
    init(parsing format: String) throws {
        var pieces: [Piece] = []
        var literal = ""
        var characters = format.makeIterator()
        func flushLiteral() {
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            literal = ""
        }
        while let character = characters.next() {
            switch character {
            case "%":
                guard let directive = characters.next() else { throw ValidationError("--format ends with a lone %") }
                let piece: Piece? = switch directive {
                case "k": .key
                case "v": .value
                case "o": .offset
                case "p": .partition
                case "t": .timestamp
                case "h": .headers
                case "T": .topic
                case "d": .deliveryCount
                case "%": nil
                default: throw ValidationError("--format: unknown directive %\(directive) (known: %k %v %o %p %t %h %T %d %%)")
                }
                if let piece {
                    flushLiteral()
                    pieces.append(piece)
                } else {
                    literal.append("%")
                }
            case "\\":
                switch characters.next() {
                case "n": literal.append("\n")
                case "t": literal.append("\t")
                case "\\": literal.append("\\")
                case let other?: literal.append("\\\(other)")
                case nil: literal.append("\\")
                }
            default:
                literal.append(character)
            }
        }
        flushLiteral()
        self.pieces = pieces
    }

    /// Appends one record, newline included; `deliveryCount` is what `%d` prints (a share
    /// group's delivery count; 1 otherwise).
    func write(_ record: ConsumerRecord, deliveryCount: Int16 = 1, into output: inout ByteBuffer) {
        for piece in pieces {
            switch piece {
            case .literal(let text): output.writeString(text)
            case .key: Self.writeNullable(record.key, into: &output)
            case .value: Self.writeNullable(record.value, into: &output)
            case .offset: output.writeString(String(record.offset))
            case .partition: output.writeString(String(record.partition))
            case .timestamp: output.writeString(String(record.timestampMs))
            case .topic: output.writeString(record.topic)
            case .deliveryCount: output.writeString(String(deliveryCount))
            case .headers:
                for (index, header) in record.headers.enumerated() {
                    if index > 0 { output.writeString(",") }
                    output.writeString(header.key)
                    if let value = header.value {
                        output.writeString("=")
                        output.writeImmutableBuffer(value)
                    }
                }
            }
        }
        output.writeString("\n")
    }

    private static func writeNullable(_ bytes: ByteBuffer?, into output: inout ByteBuffer) {
        if let bytes { output.writeImmutableBuffer(bytes) } else { output.writeString("null") }
    }
}
