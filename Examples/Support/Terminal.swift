import Foundation

/// The terminal a demo draws on: frames redrawn in place, single key presses read without Enter.
/// When standard output is not a terminal, frames are printed one after another instead.
public final class Terminal {
    public let isInteractive = isatty(STDIN_FILENO) != 0 && isatty(STDOUT_FILENO) != 0
    private var original = termios()
    private var restored = false

    public init() {
        guard isInteractive else { return }
        tcgetattr(STDIN_FILENO, &original)
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        write("\u{1B}[?25l\u{1B}[2J")  // hide the cursor, clear the screen
    }

    /// A key pressed since the last call, if any.
    public func readKey() -> Character? {
        guard isInteractive else { return nil }
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return nil }
        var byte: UInt8 = 0
        guard Foundation.read(STDIN_FILENO, &byte, 1) == 1 else { return nil }
        return Character(UnicodeScalar(byte))
    }

    /// Draws `lines` over the previous frame (or prints them, off a terminal).
    public func draw(_ lines: [String]) {
        if isInteractive {
            write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J")
        } else {
            write(lines.joined(separator: "\n") + "\n\n")
        }
    }

    /// Puts the terminal back as it was.
    public func restore() {
        guard isInteractive, !restored else { return }
        restored = true
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
        write("\u{1B}[?25h")
    }

    deinit { restore() }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Small text-drawing helpers for the live views.
public enum Draw {
    /// `value` right-aligned in `width` columns.
    public static func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = value.description
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// `text` left-aligned in `width` columns (cut if longer).
    public static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }

    /// A bar of `value / maximum` of `width` columns.
    public static func bar(_ value: Int64, of maximum: Int64, width: Int) -> String {
        guard maximum > 0, value > 0 else { return "" }
        let cells = max(1, Int((Double(value) / Double(maximum) * Double(width)).rounded()))
        return String(repeating: "█", count: min(cells, width))
    }

    /// A sparkline of `values`, one block character each.
    public static func sparkline(_ values: [Int64]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let top = max(values.max() ?? 0, 1)
        return String(values.map { blocks[min(blocks.count - 1, Int(Double($0) / Double(top) * Double(blocks.count - 1)))] })
    }
}
