import FuzzDriver

// libFuzzer's entry for this target (see FuzzDriver.swift).
@_cdecl("FuzzLogRecovery_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv) { data, size in testOneInput(data, size) }
}
