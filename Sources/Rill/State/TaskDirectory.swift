#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A task's state directory, `<state.dir>/<application.id>/<task>`, locked for as long as the task
/// holds it so that two processes never open the same stores.
final class TaskDirectory {
    let path: String
    private var descriptor: Int32 = -1

    init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StateStoreError(store: path, message: "could not create the state directory: \(error)")
        }
        let lockPath = path + "/.lock"
        descriptor = open(lockPath, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else {
            throw StateStoreError(store: path, message: "could not open \(lockPath): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            descriptor = -1
            throw StateStoreError(
                store: path,
                message: "the state directory is locked by another process (two instances with the same state.dir and application.id?)")
        }
    }

    /// The directory of the store named `name`.
    func storePath(_ name: String) -> String { path + "/" + name }

    /// The task's `.checkpoint` file.
    var checkpointPath: String { path + "/.checkpoint" }

    /// Deletes the files of the store named `name`.
    func wipe(_ name: String) { try? FileManager.default.removeItem(atPath: storePath(name)) }

    /// Releases the lock.
    func unlock() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
