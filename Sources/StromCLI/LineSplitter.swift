import NIOCore

/// Cuts a byte stream into lines at `\n`, whatever the chunk boundaries. Lines come out without
/// their newline, as slices of the buffered bytes; a last line without a newline comes out of
/// ``finish()``.
struct LineSplitter {
    private var buffered = ByteBuffer()

    mutating func append(_ chunk: ByteBuffer) {
        if buffered.readableBytes == 0 {
            // Nothing carried over: keep the chunk itself instead of copying it.
            buffered = chunk
        } else {
            var chunk = chunk
            buffered.writeBuffer(&chunk)
        }
    }

    /// The next whole line, or nil until more bytes arrive.
    mutating func nextLine() -> ByteBuffer? {
        guard let newline = buffered.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            // The unfinished line goes to the front so the buffer stays as small as a line.
            buffered.discardReadBytes()
            return nil
        }
        let line = buffered.readSlice(length: newline - buffered.readerIndex)
        buffered.moveReaderIndex(forwardBy: 1)
        return line
    }

    /// What is left after the last newline (nil when the input ended with one).
    mutating func finish() -> ByteBuffer? {
        defer { buffered = ByteBuffer() }
        return buffered.readableBytes > 0 ? buffered : nil
    }
}
