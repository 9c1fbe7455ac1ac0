import Foundation

/// A changelog partition of a task's store.
package struct ChangelogPartition: Hashable, Sendable, CustomStringConvertible {
    package let store: String
    /// The topic as the brokers know it: `<application.id>-<store>-changelog`.
    package let topic: String
    package let partition: Int32

    package var description: String { "\(topic)-\(partition)" }
}

/// The `.checkpoint` file of a task directory: the changelog offset up to which each store's
/// contents are on disk, in Kafka Streams' format (`0`, a count, then `topic partition offset` lines).
struct OffsetCheckpoint {
    let path: String

    /// The offsets in the file; empty when there is none; throws when it is corrupt.
    func read() throws -> [String: Int64] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.count >= 2, lines.removeFirst() == "0", let count = Int(lines.removeFirst()), count == lines.count else {
            throw CheckpointError.corrupt(path)
        }
        var offsets: [String: Int64] = [:]
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let partition = Int32(parts[1]), let offset = Int64(parts[2]), offset >= 0 else {
                throw CheckpointError.corrupt(path)
            }
            offsets["\(parts[0])-\(partition)"] = offset
        }
        return offsets
    }

    /// Replaces the file atomically (write to a temporary file, then rename).
    func write(_ offsets: [ChangelogPartition: Int64]) throws {
        var text = "0\n\(offsets.count)\n"
        for (partition, offset) in offsets.sorted(by: { $0.key.description < $1.key.description }) {
            text += "\(partition.topic) \(partition.partition) \(offset)\n"
        }
        let temporary = path + ".tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        if rename(temporary, path) != 0 {
            throw CheckpointError.unwritable(path, String(cString: strerror(errno)))
        }
    }

    func delete() { try? FileManager.default.removeItem(atPath: path) }
}

enum CheckpointError: Error, CustomStringConvertible {
    case corrupt(String)
    case unwritable(String, String)

    var description: String {
        switch self {
        case .corrupt(let path): return "corrupt checkpoint file \(path)"
        case .unwritable(let path, let reason): return "could not write checkpoint file \(path): \(reason)"
        }
    }
}
