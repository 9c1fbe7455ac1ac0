import Foundation
import Synchronization

/// Turns SIGTERM and SIGINT into a flag that the demo loop polls (workers shut down through a ServiceGroup).
public final class SignalWatch: @unchecked Sendable {
    private let flag = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)
    private var sources: [DispatchSourceSignal] = []

    public init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in request() }
            source.resume()
            sources.append(source)
        }
    }

    public var requested: Bool { flag.load(ordering: .relaxed) }

    /// Asks for a stop, as a signal would.
    public func request() {
        flag.store(true, ordering: .relaxed)
        semaphore.signal()
    }

    /// Waits up to `seconds` for a stop request.
    public func wait(seconds: Double) {
        _ = semaphore.wait(timeout: .now() + seconds)
    }
}
