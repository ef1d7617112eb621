import Foundation

// StromCodegen: Kafka's message JSON → Swift codecs in Sources/KafkaProtocol/Generated and
// property-test support in Tests/KafkaProtocolTests/Generated.
//
//   swift run StromCodegen            regenerate (run from the package root)
//   swift run StromCodegen --check    exit 1 if regenerating would change a committed file
//   --protocol DIR                    message definitions (default ../shared/kafka-protocol)

var arguments = Array(CommandLine.arguments.dropFirst())
let checkOnly = arguments.contains("--check")
arguments.removeAll { $0 == "--check" }
var protocolDirectory = "../shared/kafka-protocol"
if let index = arguments.firstIndex(of: "--protocol"), index + 1 < arguments.count {
    protocolDirectory = arguments[index + 1]
}

let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
let protocolURL = URL(fileURLWithPath: protocolDirectory, relativeTo: root).standardizedFileURL

do {
    let plan = try GenerationPlan(protocolDirectory: protocolURL, displayPath: protocolDirectory)
    let outputs = try plan.outputs()
    let changed = try OutputWriter(root: root, outputs: outputs).apply(checkOnly: checkOnly)
    if checkOnly {
        if changed.isEmpty {
            print("StromCodegen: generated code is up to date (\(outputs.files.count) files)")
        } else {
            print("StromCodegen: generated code differs from \(protocolDirectory); run `swift run StromCodegen`:")
            changed.forEach { print("  \($0)") }
            exit(1)
        }
    } else {
        print("StromCodegen: wrote \(outputs.files.count) files, \(changed.count) changed")
    }
} catch {
    FileHandle.standardError.write(Data("StromCodegen: \(error)\n".utf8))
    exit(2)
}
