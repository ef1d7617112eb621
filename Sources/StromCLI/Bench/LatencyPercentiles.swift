/// Nearest-rank percentiles of latency samples, in microseconds: the value at rank ⌈q·n⌉ of the
/// sorted samples, as kbench computes them, so the two tools' figures mean the same thing.
///
/// Exact rather than a histogram (HdrHistogram and the like): the latency benchmark keeps every
/// record's figure anyway, to prove each record was acknowledged and consumed exactly once, so
/// sorting them costs one pass over memory already held (10 M samples sort in about a second);
/// a histogram would report bucket values (a few significant digits) where kbench reports the
/// sample itself.
struct LatencyPercentiles: Sendable, Equatable {
    var p50Us: Double
    var p99Us: Double
    var p999Us: Double
    var maxUs: Double
    var meanUs: Double

    /// - Parameter nanoseconds: the samples, in any order; nil when there are none.
    init?(nanoseconds: some Collection<Int64>) {
        guard !nanoseconds.isEmpty else { return nil }
        let sorted = nanoseconds.sorted()
        func rank(_ numerator: Int, _ denominator: Int) -> Double {
            // ⌈numerator/denominator · n⌉ in integers, so no rounding moves a rank.
            let rank = (numerator * sorted.count + denominator - 1) / denominator
            return Double(sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]) / 1e3
        }
        p50Us = rank(50, 100)
        p99Us = rank(99, 100)
        p999Us = rank(999, 1_000)
        maxUs = Double(sorted[sorted.count - 1]) / 1e3
        meanUs = sorted.reduce(0.0) { $0 + Double($1) } / Double(sorted.count) / 1e3
    }
}
