/// Kafka's message JSON allows `//` line comments. JSON parsers don't, so drop them, leaving any
/// `//` inside string literals (URLs in "about" texts) untouched.
func strippingLineComments(_ text: String) -> String {
    var output = ""
    output.reserveCapacity(text.utf8.count)
    var inString = false
    var escaped = false
    var iterator = Array(text).makeIterator()
    var pending: Character? = nil
    while let character = pending ?? iterator.next() {
        pending = nil
        if inString {
            output.append(character)
            if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
            continue
        }
        if character == "\"" {
            inString = true
            output.append(character)
        } else if character == "/" {
            let next = iterator.next()
            if next == "/" {
                // Skip to the end of the line, keeping the newline so line numbers survive.
                while let skipped = iterator.next() {
                    if skipped == "\n" { output.append("\n"); break }
                }
            } else {
                output.append(character)
                pending = next
            }
        } else {
            output.append(character)
        }
    }
    return output
}
