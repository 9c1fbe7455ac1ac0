import Foundation
import MallocCounter

/// Allocations per record and peak resident memory over one measured run, of the whole process
/// (the embedded broker and librdkafka's threads included: they run in it too).
struct ResourceUse {
    var allocationsPerRecord: Double
    var peakRSSMiB: Double

    var description: String { String(format: "%.1f allocations/record, peak RSS %.0f MiB", allocationsPerRecord, peakRSSMiB) }
}

/// Measures ``ResourceUse`` between ``begin()`` and ``end(records:)``; the last result stays in ``last``.
enum ResourceMeter {
    nonisolated(unsafe) private static var allocationsAtStart: UInt64 = 0
    nonisolated(unsafe) private(set) static var last: ResourceUse?

    /// Resets the kernel's peak-RSS mark (`/proc/self/clear_refs`) and notes the allocation count.
    static func begin() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        allocationsAtStart = rill_malloc_count()
    }

    @discardableResult
    static func end(records: Int) -> ResourceUse {
        let allocations = rill_malloc_count() - allocationsAtStart
        let use = ResourceUse(allocationsPerRecord: Double(allocations) / Double(max(records, 1)), peakRSSMiB: peakRSSMiB())
        last = use
        return use
    }

    /// `VmHWM` of /proc/self/status: the peak resident set since the last reset.
    static func peakRSSMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kib / 1024
    }
}
