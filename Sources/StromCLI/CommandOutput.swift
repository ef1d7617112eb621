import Foundation
import NIOCore

/// Where a command writes: its results to one stream, diagnostics to the other. The commands
/// take it as a parameter so tests can capture what they print.
protocol CommandOutput: Sendable {
    /// Results (stdout): records, topic lists, confirmations.
    func write(_ bytes: ByteBuffer)
    /// Diagnostics (stderr): errors, warnings, summaries.
    func writeError(_ text: String)
}

extension CommandOutput {
    func write(_ text: String) {
        write(ByteBuffer(string: text))
    }
}

/// The process's standard output and standard error.
struct StandardStreams: CommandOutput {
    func write(_ bytes: ByteBuffer) {
        // A closed stdout (`strom consume … | head`) ends the process with SIGPIPE, as for any
        // Unix filter; other write errors have nowhere better to be reported.
        try? FileHandle.standardOutput.write(contentsOf: bytes.withUnsafeReadableBytes { Data($0) })
    }

    func writeError(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}
