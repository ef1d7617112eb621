import ArgumentParser

/// A `key=value` argument (`--config retention.ms=1000`); the value may itself contain `=`.
struct ConfigSetting: ExpressibleByArgument, Hashable {
    var name: String
    var value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        name = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension [ConfigSetting] {
    /// By name; a name given twice keeps its last value, as Kafka's tools do.
    var byName: [String: String] {
        Dictionary(map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
