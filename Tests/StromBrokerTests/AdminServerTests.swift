import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import StromAdmin

/// `/health`: every event loop must run a task in time; a blocked loop makes the answer no.
@Suite struct AdminHealthTests {
    @Test func loopsThatRunTasksAreHealthy() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        #expect(await AdminServer.loopsAnswer(loops, within: .seconds(10)))
        try await group.shutdownGracefully()
    }

    /// The loop stays blocked until the answer is in, so an answer that waited for it would never
    /// come: the time limit fails that (a generous bound, not a measure of speed on a busy machine).
    @Test(.timeLimit(.minutes(1))) func aBlockedLoopIsNotHealthyAndTheAnswerComesInTime() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let release = DispatchSemaphore(value: 0)
        loops[1].execute { release.wait() }
        #expect(await !AdminServer.loopsAnswer(loops, within: .milliseconds(200)))
        release.signal()
        try await group.shutdownGracefully()
    }
}
