#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CLOCK_MONOTONIC in nanoseconds: the clock kbench stamps latency records with. A raw integer
/// (not a `ContinuousClock.Instant`) because the send time travels inside the record's value.
enum MonotonicClock {
    static func nowNanoseconds() -> Int64 {
        var time = timespec()
        // CLOCK_MONOTONIC always exists on Linux and Darwin; the call cannot fail with a valid pointer.
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Seconds between two readings.
    static func seconds(from start: Int64, to end: Int64) -> Double {
        Double(end - start) / 1e9
    }
}
