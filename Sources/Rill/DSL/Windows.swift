/// A window definition that can't work (a size ≤ 0, a negative grace, …); the message names it.
public struct WindowDefinitionError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `duration` in whole ms, or an error naming the window kind and parameter when it is out of range.
func milliseconds(_ duration: Duration, _ what: String, of owner: String, positive: Bool) throws -> Int64 {
    let ms = duration.wholeMilliseconds
    if positive ? ms <= 0 : ms < 0 {
        throw WindowDefinitionError("\(owner): \(what) must be \(positive ? "positive" : "zero or more") (got \(ms) ms)")
    }
    return ms
}

/// Fixed-size windows aligned to the epoch: tumbling (advance = size) or hopping (advance < size),
/// as Kafka Streams' `TimeWindows`. A window `[start, start + size)` closes once stream time
/// reaches its end plus the grace period; later records for it are dropped.
///
/// ```swift
/// stream.groupByKey().windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60))).count()
/// ```
public struct TimeWindows: Sendable, Equatable {
    public let sizeMs: Int64
    public let advanceMs: Int64
    public let graceMs: Int64

    /// Tumbling windows of `size`, closed as soon as stream time passes their end.
    public static func ofSizeWithNoGrace(_ size: Duration) throws -> TimeWindows {
        try ofSizeAndGrace(size, grace: .zero)
    }

    /// Tumbling windows of `size` that accept out-of-order records for `grace` after their end.
    public static func ofSizeAndGrace(_ size: Duration, grace: Duration) throws -> TimeWindows {
        let sizeMs = try milliseconds(size, "window size", of: "TimeWindows", positive: true)
        let graceMs = try milliseconds(grace, "grace period", of: "TimeWindows", positive: false)
        return TimeWindows(sizeMs: sizeMs, advanceMs: sizeMs, graceMs: graceMs)
    }

    /// Hopping windows: a new window every `advance` (0 < advance ≤ size).
    public func advanceBy(_ advance: Duration) throws -> TimeWindows {
        let advanceMs = try milliseconds(advance, "advance", of: "TimeWindows", positive: true)
        guard advanceMs <= sizeMs else {
            throw WindowDefinitionError("TimeWindows: advance (\(advanceMs) ms) must not exceed the window size (\(sizeMs) ms)")
        }
        return TimeWindows(sizeMs: sizeMs, advanceMs: advanceMs, graceMs: graceMs)
    }

    /// The starts of the windows a record at `timestamp` falls in, in order (no allocation).
    @usableFromInline
    func windowStarts(for timestamp: Int64) -> StrideThrough<Int64> {
        stride(from: max(0, timestamp - sizeMs + advanceMs) / advanceMs * advanceMs, through: timestamp, by: Int(advanceMs))
    }

    /// The windows a record at `timestamp` falls in, by start.
    func windows(for timestamp: Int64) -> [Window] {
        windowStarts(for: timestamp).map { Window(start: $0, end: $0 + sizeMs) }
    }
}

/// Windows of a fixed time difference that slide with the records, as Kafka Streams'
/// `SlidingWindows`: two records are in a common window when their timestamps differ by at most
/// the time difference. Windows are `[start, end]`, both inclusive; only windows that hold records
/// exist, and each distinct set of records is one window.
public struct SlidingWindows: Sendable, Equatable {
    public let timeDifferenceMs: Int64
    public let graceMs: Int64

    public static func ofTimeDifferenceWithNoGrace(_ timeDifference: Duration) throws -> SlidingWindows {
        try ofTimeDifferenceAndGrace(timeDifference, grace: .zero)
    }

    public static func ofTimeDifferenceAndGrace(_ timeDifference: Duration, grace: Duration) throws -> SlidingWindows {
        SlidingWindows(
            timeDifferenceMs: try milliseconds(timeDifference, "time difference", of: "SlidingWindows", positive: true),
            graceMs: try milliseconds(grace, "grace period", of: "SlidingWindows", positive: false))
    }
}

/// Sessions of activity separated by gaps of inactivity, as Kafka Streams' `SessionWindows`: a
/// record within `gap` of a session joins it, and a record that bridges two sessions merges them.
/// A session `[first, last]` closes once stream time passes its end plus the gap plus the grace period.
public struct SessionWindows: Sendable, Equatable {
    public let inactivityGapMs: Int64
    public let graceMs: Int64

    public static func ofInactivityGapWithNoGrace(_ gap: Duration) throws -> SessionWindows {
        try ofInactivityGapAndGrace(gap, grace: .zero)
    }

    public static func ofInactivityGapAndGrace(_ gap: Duration, grace: Duration) throws -> SessionWindows {
        SessionWindows(
            inactivityGapMs: try milliseconds(gap, "inactivity gap", of: "SessionWindows", positive: true),
            graceMs: try milliseconds(grace, "grace period", of: "SessionWindows", positive: false))
    }
}
