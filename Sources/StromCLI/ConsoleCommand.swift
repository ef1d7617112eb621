import ArgumentParser
import StromAdmin

/// `strom console hash-password`: the bcrypt hash for `console.password.hash` or
/// `console.readonly.password.hash`, from a password read on standard input (never an argument:
/// arguments show in `ps` and shell history).
struct ConsoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console", abstract: "The web console's settings.", subcommands: [HashPasswordCommand.self])

    struct HashPasswordCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-password",
            abstract: "Print the bcrypt hash of the password on standard input (for console.password.hash).")

        @Option(help: "bcrypt's cost: each step doubles the time a check takes (4-31).")
        var cost: UInt8 = 12

        func run() throws {
            guard (4...31).contains(cost) else { throw ValidationError("--cost must be between 4 and 31") }
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw ValidationError("give the password on standard input") }
            print(ConsoleAccess.hash(password: line, cost: cost))
        }
    }
}
