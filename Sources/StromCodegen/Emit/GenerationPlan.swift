import Foundation

/// All files one run generates, keyed by path relative to the package root.
struct GeneratedOutputs {
    var files: [String: String] = [:]
    /// Directories owned entirely by the generator: stale files in them are removed.
    var ownedDirectories: [String] = []
}

/// Loads every definition and decides which file each one becomes.
struct GenerationPlan {
    static let sourcesDirectory = "Sources/KafkaProtocol/Generated"
    static let testsDirectory = "Tests/KafkaProtocolTests/Generated"

    let messages: [MessageSpec]
    let records: [MessageSpec]
    let displayPath: String

    init(protocolDirectory: URL, displayPath: String) throws {
        self.displayPath = displayPath
        messages = try Self.load(protocolDirectory.appendingPathComponent("messages"))
        records = try Self.load(protocolDirectory.appendingPathComponent("coordinator-records"))
        guard !messages.isEmpty else { throw SpecError("no message definitions in \(protocolDirectory.path)") }
    }

    private static func load(_ directory: URL) throws -> [MessageSpec] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }
            .sorted()
        return try names.map { try MessageSpec.load(from: directory.appendingPathComponent($0)) }
    }

    func apiPairs() throws -> [(request: MessageSpec, response: MessageSpec)] {
        let responses = Dictionary(uniqueKeysWithValues: messages.filter { $0.kind == .response }.map { ($0.name, $0) })
        return try messages.filter { $0.kind == .request }
            .sorted { ($0.apiKey ?? 0) < ($1.apiKey ?? 0) }
            .map { request in
                let responseName = request.name.dropLast("Request".count) + "Response"
                guard request.name.hasSuffix("Request"), let response = responses[String(responseName)] else {
                    throw SpecError("no response for \(request.name)")
                }
                guard response.apiKey == request.apiKey, response.validVersions == request.validVersions else {
                    throw SpecError("\(request.name) and \(responseName) disagree on API key or versions")
                }
                return (request, response)
            }
    }

    func outputs() throws -> GeneratedOutputs {
        var outputs = GeneratedOutputs()
        outputs.ownedDirectories = [Self.sourcesDirectory, Self.testsDirectory]
        for (folder, specs, source) in [("Messages", messages, "messages"), ("CoordinatorRecords", records, "coordinator-records")] {
            for spec in specs {
                let sourcePath = "\(displayPath)/\(source)/\(spec.sourceFile)"
                outputs.files["\(Self.sourcesDirectory)/\(folder)/\(spec.name).swift"] =
                    MessageEmitter(spec: spec, sourcePath: sourcePath).emit()
                outputs.files["\(Self.testsDirectory)/\(folder)/\(spec.name)+Arbitrary.swift"] =
                    ArbitraryEmitter(spec: spec, sourcePath: sourcePath).emit()
            }
        }
        let registry = RegistryEmitter(apis: try apiPairs())
        outputs.files["\(Self.sourcesDirectory)/ApiKey.swift"] = registry.emitApiKey()
        outputs.files["\(Self.sourcesDirectory)/KafkaRequestBody.swift"] = registry.emitBodyEnum(kind: .request)
        outputs.files["\(Self.sourcesDirectory)/KafkaResponseBody.swift"] = registry.emitBodyEnum(kind: .response)
        outputs.files["\(Self.testsDirectory)/AllMessages.swift"] = ArbitraryEmitter.emitCatalogue(
            messages: messages, records: records)
        return outputs
    }
}

/// Writes generated files, or only compares them in check mode.
struct OutputWriter {
    let root: URL
    let outputs: GeneratedOutputs

    /// - Returns: paths that differ from (or are missing in, or are stale in) the tree.
    func apply(checkOnly: Bool) throws -> [String] {
        var changed: [String] = []
        let fileManager = FileManager.default
        for (path, content) in outputs.files.sorted(by: { $0.key < $1.key }) {
            let url = root.appendingPathComponent(path)
            let existing = try? String(contentsOf: url, encoding: .utf8)
            guard existing != content else { continue }
            changed.append(path)
            if !checkOnly {
                try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try content.write(to: url, atomically: true, encoding: .utf8)
            }
        }
        for directory in outputs.ownedDirectories {
            let base = root.appendingPathComponent(directory)
            guard let enumerator = fileManager.enumerator(atPath: base.path) else { continue }
            for case let relative as String in enumerator where relative.hasSuffix(".swift") {
                let path = "\(directory)/\(relative)"
                if outputs.files[path] == nil {
                    changed.append(path + " (stale)")
                    if !checkOnly { try fileManager.removeItem(at: base.appendingPathComponent(relative)) }
                }
            }
        }
        return changed
    }
}
