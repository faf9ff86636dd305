import Foundation
import Glibc

// What the flow-control tests share: a count two threads update, a wait for a count to stop moving, and a blocking
// read of one HTTP/1.1 answer.

/// A byte count two threads share.
final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func add(_ bytes: Int) { lock.lock(); count += bytes; lock.unlock() }
}

/// Waits until `value` stops changing (the same over three looks 0.3 s apart); returns it.
func settled(_ value: () -> Int) -> Int {
    var last = -1, same = 0
    for _ in 0..<100 {
        let now = value()
        same = now == last ? same + 1 : 0
        if same == 3 { return now }
        last = now
        Thread.sleep(forTimeInterval: 0.3)
    }
    return value()
}

/// Reads an answer's head and then `bodyBytes` bytes after it (or to the close); returns the head and the count.
func readAnswer(_ client: Int32, bodyBytes: Int) -> (head: String, body: Int) {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    var headEnd: Int?
    var body = 0
    while headEnd.map({ _ in body < bodyBytes }) ?? true {
        let count = read(client, &buffer, buffer.count)
        guard count > 0 else { break }
        if headEnd != nil {
            body += count
            continue
        }
        bytes += buffer[0..<count]
        if let range = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
            headEnd = range.upperBound
            body = bytes.count - range.upperBound
        }
    }
    return (String(decoding: bytes[0..<(headEnd ?? bytes.count)], as: UTF8.self), body)
}
