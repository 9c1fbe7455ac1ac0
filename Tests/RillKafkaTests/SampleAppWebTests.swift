import Foundation
import TestSupport
import XCTest

/// The sample apps' `--http-port`: their live pages in a real headless browser (Chromium), which
/// must load, show what the running app computed, and redraw by themselves as the app goes on;
/// and their endpoint's store queries.
extension SampleAppEndToEndTests {
    /// Headless Chromium on `url`, its DOM printed once the page has run `budgetMs` of its own time
    /// (time the page spends waiting on the network doesn't count).
    final class Browser {
        let process = Process()
        private let output: URL
        private let profile: URL

        init(_ url: String, budgetMs: Int) throws {
            guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
                throw HTTPGetError("Chromium is not installed: `make test` installs Debian's chromium package")
            }
            output = FileManager.default.temporaryDirectory.appendingPathComponent("dom-\(UUID().uuidString).html")
            profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: chromium)
            process.arguments = [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--user-data-dir=\(profile.path)", "--virtual-time-budget=\(budgetMs)", "--dump-dom", url,
            ]
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// Stops Chromium if it still runs (a test that failed half-way).
        func stop() {
            if process.isRunning { process.terminate() }
        }

        /// The DOM, once Chromium has exited (within `seconds`).
        func dom(seconds: TimeInterval = 90) throws -> String {
            let exited = DispatchSemaphore(value: 0)
            DispatchQueue.global().async { [process] in
                process.waitUntilExit()
                exited.signal()
            }
            defer {
                try? FileManager.default.removeItem(at: output)
                try? FileManager.default.removeItem(at: profile)
            }
            guard exited.wait(timeout: .now() + seconds) == .success else {
                process.terminate()
                throw HTTPGetError("Chromium did not finish within \(Int(seconds)) s")
            }
            return try String(contentsOf: output, encoding: .utf8)
        }
    }

    /// The value of `attribute` on `<body>`.
    func bodyAttribute(_ attribute: String, in dom: String) -> String? {
        guard let body = dom.range(of: "<body[^>]*>", options: .regularExpression),
            let value = dom[body].range(of: "\(attribute)=\"[^\"]*\"", options: .regularExpression)
        else { return nil }
        return String(dom[value].dropFirst(attribute.count + 2).dropLast())
    }

    /// The text of the element with id `id` (no markup inside).
    func text(ofID id: String, in dom: String) -> String? {
        guard let open = dom.range(of: "id=\"\(id)\"[^>]*>", options: .regularExpression),
            let close = dom[open.upperBound...].firstIndex(of: "<")
        else { return nil }
        return String(dom[open.upperBound..<close])
    }

    /// What the page reads, now; nil while nothing answers.
    func live(_ port: Int) -> [String: Any]? {
        (try? httpGet(port: port, "/api/live"))?.json as? [String: Any]
    }

    func testTheCallVolumePageShowsTheRunningAppAndRedrawsAsItGoesOn() throws {
        try makeBroker(["calls:4"])
        let first = callTraffic(0..<20_000, seed: 5)
        try produce("calls", first.records, timestamp: start)
        let port = freePort()
        let app = try startApp("call-volume", ["--http-port", "\(port)"])
        defer { terminate(app) }

        // The endpoint shows every final and dead letter of the first calls, and the app's store.
        let clinics = Set(first.counts.keys.map { String($0.prefix { $0 != "@" }) })
        XCTAssertTrue(eventually(timeout: 90) {
            guard let view = self.live(port)?["view"] as? [String: Any] else { return false }
            return view["finals"] as? Int == first.counts.count && view["deadLetters"] as? Int == first.bad.count
        }, "\(String(describing: live(port)))\n\(logText())")
        let view = try XCTUnwrap(live(port)?["view"] as? [String: Any])
        XCTAssertEqual(Set((view["clinics"] as? [[String: Any]] ?? []).compactMap { $0["clinicId"] as? String }), clinics)
        XCTAssertEqual(try httpGet(port: port, "/health").status, 200)
        XCTAssertTrue(try httpGet(port: port, "/metrics").body.contains("rill_records_processed_total"))
        let store = try httpGet(port: port, "/stores/call-counts/clinic-03")
        XCTAssertEqual(store.status, 200, store.body)

        // The page: it loads, draws the first calls, then waits for changes; more calls come, and
        // it redraws with their finals.
        // Each redraw is at least 300 ms of the app's progress, and 500 ms of the page's budget.
        let browser = try Browser("http://127.0.0.1:\(port)/", budgetMs: 10_000)
        defer { browser.stop() }
        XCTAssertTrue(eventually(timeout: 60) { (self.live(port)?["viewers"] as? Int ?? 0) >= 1 }, "the page never waited for a change")
        let second = callTraffic(100_000..<105_000, seed: 6)
        try produce("calls", second.records, timestamp: start)
        let dom = try browser.dom()

        let finalsSeen = (bodyAttribute("data-finals-history", in: dom) ?? "").split(separator: ",").compactMap { Int($0) }
        XCTAssertEqual(finalsSeen.first, first.counts.count, "the first drawing shows the first calls' finals\n\(dom.prefix(2_000))")
        XCTAssertGreaterThan(finalsSeen.last ?? 0, first.counts.count, "the page redrew with the later finals: \(finalsSeen)")
        XCTAssertLessThanOrEqual(finalsSeen.last ?? 0, first.counts.count + second.counts.count)
        let versions = (bodyAttribute("data-history", in: dom) ?? "").split(separator: ",").compactMap { Int($0) }
        XCTAssertEqual(versions, versions.sorted(), "drawings in order")
        XCTAssertEqual(Set(versions).count, versions.count)
        XCTAssertEqual(text(ofID: "state", in: dom), "running")
        XCTAssertEqual(text(ofID: "finals", in: dom), finalsSeen.last.map(String.init))
        XCTAssertGreaterThanOrEqual(Int(text(ofID: "dead-letters", in: dom) ?? "") ?? 0, first.bad.count)
        for clinic in clinics {
            XCTAssertTrue(dom.contains("data-clinic=\"\(clinic)\""), "no row for \(clinic)")
        }
        XCTAssertTrue(dom.contains("<polyline"), "the chart has its lines")
    }

    func testTheFunnelPageShowsTheAppsFunnel() throws {
        try makeBroker(["clinics:4", "appointments:4"])
        try produceClinics()
        var state: [String: (clinic: String, stages: Set<String>)] = [:]
        let traffic = appointmentTraffic(0..<4_000, seed: 7, state: &state)
        try produce("appointments", traffic.records)
        let port = freePort()
        let app = try startApp("appointment-funnel", ["--http-port", "\(port)"])
        defer { terminate(app) }

        let requested = state.values.filter { $0.stages.contains("requested") }.count
        let completed = state.values.filter { $0.stages.contains("completed") }.count
        XCTAssertTrue(eventually(timeout: 90) {
            let view = self.live(port)?["view"] as? [String: Any]
            let total = view?["total"] as? [String: Any]
            return total?["appointments"] as? Int == state.count && view?["deadLetters"] as? Int == traffic.bad.count
                && (total?["stages"] as? [String: Any])?["completed"] as? Int == completed
                && (total?["stages"] as? [String: Any])?["requested"] as? Int == requested
        }, "\(String(describing: live(port)))\n\(logText())")
        let funnel = try httpGet(port: port, "/stores/funnels/clinic-03")
        XCTAssertEqual(funnel.status, 200, funnel.body)
        XCTAssertEqual(((funnel.json as? [String: Any])?["value"] as? [String: Any])?["clinicName"] as? String, "Clinic 3")

        let browser = try Browser("http://127.0.0.1:\(port)/", budgetMs: 2_000)
        defer { browser.stop() }
        let dom = try browser.dom()
        XCTAssertEqual(text(ofID: "appointments", in: dom), String(state.count), String(dom.prefix(2_000)))
        XCTAssertEqual(text(ofID: "stage-requested", in: dom), "\(requested) (100%)")
        XCTAssertTrue(text(ofID: "stage-completed", in: dom)?.hasPrefix("\(completed) (") == true)
        XCTAssertEqual(text(ofID: "dead-letters", in: dom), String(traffic.bad.count))
        let perClinic = Dictionary(grouping: state.values, by: \.clinic).mapValues(\.count)
        let busiest = perClinic.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
        XCTAssertTrue(dom.contains("data-clinic=\"\(busiest)\""), "the busiest clinic, \(busiest), has its row")
        XCTAssertTrue(dom.contains(">west</button>"), "a button per region")
    }
}
