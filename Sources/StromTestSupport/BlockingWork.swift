import Foundation

/// Runs blocking work (a child process, reading its pipe) on a thread of its own and waits for it
/// without holding a thread: Swift's cooperative pool has as many threads as cores (two here), and
/// a test blocking one of them for a minute stalls every other test's timers and continuations.
/// Record expectations after it returns, in the test's own context.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "strom-test-blocking"
        thread.start()
    }
}
