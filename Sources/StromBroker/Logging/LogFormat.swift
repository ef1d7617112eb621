public import Logging

/// `log.format`: how `strom serve` writes its log lines to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's stream handler: `TIME LEVEL LABEL: [key=value ...] [SOURCE] MESSAGE`.
    case text
    /// One JSON object per line (``JSONLogHandler``), for log shippers.
    case json

    /// The handler for a logger labelled `label`, at `level`.
    public func handler(label: String, level: Logger.Level = .info) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
