#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's descriptor limit (`RLIMIT_NOFILE`), shared by segment files and connections.
public enum OpenFilesLimit {
    /// The soft limit in force.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(resourceNoFile, &limit) == 0 else { return 1024 }
        return min(Int(clamping: limit.rlim_cur), Int(Int32.max))
    }

    /// Raises the soft limit to the hard one, as most servers (and Go's runtime) do at start: the
    /// soft default (often 1,024) is far below what a broker with many segments and clients needs,
    /// and the hard limit is the administrator's real bound. Returns the soft limit afterwards.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        if getrlimit(resourceNoFile, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resourceNoFile, &limit)
        }
        return current
    }

    /// Strom's default budget of open log files: half the limit, the other half for connections.
    static var defaultLogFilesOpenMax: Int { max(64, current / 2) }

    #if canImport(Glibc)
    private static let resourceNoFile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNoFile = RLIMIT_NOFILE
    #endif
}
