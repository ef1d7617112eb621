#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Standard input as an asynchronous sequence of chunks, read on NIO's blocking-I/O thread pool
/// so no cooperative thread waits on the terminal or the pipe.
///
/// Each chunk is whatever was available: the read blocks for the first bytes, then takes what
/// else is already there without waiting, up to ``chunkSizeBytesMax``. Piped input thus comes in
/// large chunks (large produce requests) while lines typed at a terminal go out one by one.
enum StandardInput {
    /// One chunk's bound, the produce command's request size.
    static let chunkSizeBytesMax = 1 << 20
    private static let readSizeBytes = 64 << 10

    struct ReadError: Error, CustomStringConvertible {
        var errorNumber: Int32
        var description: String { "cannot read standard input: \(String(cString: strerror(errorNumber)))" }
    }

    static func chunks() -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream {
            try await NIOThreadPool.singleton.runIfActive { try readAvailable(fileDescriptor: STDIN_FILENO) }
        }
    }

    /// Blocks until bytes arrive, then takes what is ready; nil at the end of the input.
    static func readAvailable(fileDescriptor: Int32) throws(ReadError) -> ByteBuffer? {
        var chunk = ByteBuffer()
        while chunk.readableBytes < chunkSizeBytesMax {
            if chunk.readableBytes > 0 && !hasBytesReady(fileDescriptor) { break }
            var count = 0
            var readErrorNumber: Int32 = 0
            chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: readSizeBytes) { buffer in
                count = read(fileDescriptor, buffer.baseAddress, Swift.min(buffer.count, readSizeBytes))
                readErrorNumber = count < 0 ? errno : 0
                return Swift.max(count, 0)
            }
            if count < 0 {
                if readErrorNumber == EINTR { continue }
                throw ReadError(errorNumber: readErrorNumber)
            }
            if count == 0 { break }
        }
        return chunk.readableBytes > 0 ? chunk : nil
    }

    private static func hasBytesReady(_ fileDescriptor: Int32) -> Bool {
        var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }
}
