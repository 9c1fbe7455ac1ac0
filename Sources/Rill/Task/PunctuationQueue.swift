/// The punctuators scheduled on one clock of a task.
final class PunctuationQueue {
    final class Schedule {
        let node: String
        let intervalMs: Int64
        var due: Int64
        let punctuator: (Int64) throws -> Void
        let cancellable = Cancellable()

        init(node: String, due: Int64, intervalMs: Int64, punctuator: @escaping (Int64) throws -> Void) {
            self.node = node
            self.due = due
            self.intervalMs = intervalMs
            self.punctuator = punctuator
        }
    }

    private(set) var schedules: [Schedule] = []

    func add(node: String, firstDue: Int64, intervalMs: Int64, punctuator: @escaping (Int64) throws -> Void) -> Cancellable {
        let schedule = Schedule(node: node, due: firstDue, intervalMs: intervalMs, punctuator: punctuator)
        schedules.append(schedule)
        return schedule.cancellable
    }

    var isEmpty: Bool { schedules.isEmpty }

    /// Fires every schedule due at `now`, once each; a schedule that missed several
    /// intervals fires once and is due again `interval` after `now`.
    func punctuate(now: Int64, run: (Schedule) throws -> Void) throws -> Bool {
        guard !schedules.isEmpty else { return false }
        var fired = false
        // Punctuators may schedule or cancel others: iterate over a snapshot.
        for schedule in schedules where !schedule.cancellable.isCancelled && schedule.due <= now {
            var next = schedule.due + schedule.intervalMs
            if now >= next { next = now + schedule.intervalMs }
            schedule.due = next
            fired = true
            try run(schedule)
        }
        schedules.removeAll { $0.cancellable.isCancelled }
        return fired
    }
}
