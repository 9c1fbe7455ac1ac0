import Foundation

/// The benchmark figures of one run, printed as a table.
struct Report {
    struct Row {
        var scenario: String
        var rate: Double
        var baseline: String
        var baselineRate: Double
        var goal: Double?
        var notes: String
        var resources: ResourceUse?
        var baselineResources: ResourceUse?
    }

    private(set) var rows: [Row] = []

    /// A throughput figure against its baseline's, with what each run used (``ResourceMeter``) when measured.
    mutating func add(
        scenario: String, rate: Double, baseline: String, baselineRate: Double, goal: Double?, notes: String = "",
        resources: ResourceUse? = nil, baselineResources: ResourceUse? = nil
    ) {
        let row = Row(
            scenario: scenario, rate: rate, baseline: baseline, baselineRate: baselineRate, goal: goal, notes: notes,
            resources: resources, baselineResources: baselineResources)
        rows.append(row)
        print(Self.format(row))
        fflush(nil)
    }

    /// A memory figure against a ceiling (rate = MiB used, baseline = the ceiling).
    mutating func addMemory(scenario: String, mebibytes: Double, goal: Double, notes: String) {
        memoryRows.append((scenario, mebibytes, goal, notes))
        print(String(format: "%-48@  %8.0f MiB   goal <= %.0f MiB %@\n    %@", scenario as NSString, mebibytes, goal,
                     (mebibytes <= goal ? "met" : "NOT MET") as NSString, notes as NSString))
        fflush(nil)
    }

    private(set) var memoryRows: [(scenario: String, mebibytes: Double, goal: Double, notes: String)] = []

    /// A latency figure (milliseconds) against an optional ceiling for p99.
    mutating func addLatency(scenario: String, p50Ms: Double, p99Ms: Double, goalMs: Double?, notes: String) {
        latencyRows.append((scenario, p50Ms, p99Ms, goalMs, notes))
        var line = String(format: "%-48@  p50 %.1f ms   p99 %.1f ms", scenario as NSString, p50Ms, p99Ms)
        if let goalMs { line += String(format: "   goal p99 <= %.0f ms %@", goalMs, p99Ms <= goalMs ? "met" : "NOT MET") }
        print(line + "\n    " + notes)
        fflush(nil)
    }

    private(set) var latencyRows: [(scenario: String, p50: Double, p99: Double, goal: Double?, notes: String)] = []

    static func format(_ row: Row) -> String {
        let ratio = row.rate / row.baselineRate
        var line = String(
            format: "%-48@  %12.0f rec/s   baseline (%@) %12.0f rec/s   ratio %.2f", row.scenario as NSString,
            row.rate, row.baseline as NSString, row.baselineRate, ratio)
        if let goal = row.goal { line += String(format: "   goal >= %.2f %@", goal, ratio >= goal ? "met" : "NOT MET") }
        if !row.notes.isEmpty { line += "\n    " + row.notes }
        if let use = row.resources {
            line += "\n    Rill: \(use.description)" + (row.baselineResources.map { "; baseline: \($0.description)" } ?? "")
        }
        return line
    }

    func summary() -> String {
        var text = "\n| scenario | records/s | baseline | baseline records/s | ratio | goal | allocations/record (baseline) | peak RSS MiB (baseline) |\n|---|---|---|---|---|---|---|---|\n"
        for row in rows {
            let goal = row.goal.map { String(format: "≥ %.2f", $0) } ?? ""
            func pair(_ value: (ResourceUse) -> Double, _ format: String) -> String {
                guard let use = row.resources else { return "" }
                return String(format: format, value(use)) + (row.baselineResources.map { String(format: " (" + format + ")", value($0)) } ?? "")
            }
            text += String(
                format: "| %@ | %.0f | %@ | %.0f | %.2f | %@ | %@ | %@ |\n", row.scenario as NSString, row.rate,
                row.baseline as NSString, row.baselineRate, row.rate / row.baselineRate, goal as NSString,
                pair(\.allocationsPerRecord, "%.1f") as NSString, pair(\.peakRSSMiB, "%.0f") as NSString)
        }
        for row in memoryRows {
            text += String(format: "| %@ | %.0f MiB | | | | ≤ %.0f MiB |\n", row.scenario as NSString, row.mebibytes, row.goal)
        }
        for row in latencyRows {
            let goal = row.goal.map { String(format: "p99 ≤ %.0f ms", $0) } ?? ""
            text += String(format: "| %@ | p50 %.1f ms, p99 %.1f ms | | | | %@ |\n", row.scenario as NSString, row.p50, row.p99, goal as NSString)
        }
        return text
    }
}
