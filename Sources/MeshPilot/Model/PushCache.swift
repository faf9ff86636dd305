import ConfigValues
import Foundation

/// Results shared by every proxy computed from one model (a push): a service's clusters are the same for all
/// proxies of a namespace, so they are built once. Thread-safe; it lives as long as its model.
public final class PushCache: @unchecked Sendable {
    enum Entry {
        case clusters([JSONValue], [JSONValue])
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    init() {}

    func value(for key: String, _ make: () -> Entry) -> Entry {
        lock.lock()
        if let found = entries[key] { lock.unlock(); return found }
        lock.unlock()
        let made = make()
        lock.lock(); entries[key] = made; lock.unlock()
        return made
    }
}
