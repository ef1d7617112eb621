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

    @Test func aBlockedLoopIsNotHealthyAndTheAnswerComesInTime() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let release = DispatchSemaphore(value: 0)
        loops[1].execute { release.wait() }
        let started = ContinuousClock.now
        #expect(await !AdminServer.loopsAnswer(loops, within: .milliseconds(200)))
        #expect(ContinuousClock.now - started < .seconds(10), "bounded by the limit, not by the blocked loop")
        release.signal()
        try await group.shutdownGracefully()
    }
}
