public import NIOCore

extension StorageFileSystem {
    /// Replaces the file at `path` with `contents` so that after a crash it holds either the old
    /// contents or the new, never a mix: write `<path>.tmp`, fsync it, rename it over `path`,
    /// fsync the directory. Used by every small file that must change atomically (checkpoints,
    /// cluster metadata).
    public func replaceAtomically(_ path: String, with contents: ByteBuffer, directory: String) throws(StorageIOError) {
        let temporaryPath = path + ".tmp"
        let file = try open(temporaryPath, create: true)
        do throws(StorageIOError) {
            // A previous write may have died after creating the temporary file, possibly with more bytes.
            try file.truncate(to: 0)
            try file.write(contents, at: 0)
            // Durable before the rename: otherwise a power cut could leave the name on empty or partial data.
            try file.sync()
        } catch {
            try? file.close()
            throw error
        }
        try file.close()
        try rename(temporaryPath, to: path)
        // The rename is only durable once the directory entry is.
        try syncDirectory(directory)
    }
}
