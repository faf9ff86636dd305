import Foundation
import Manifests

/// A change to a stored object, as watchers see it.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    public let kind: Kind
    public let resourceVersion: Int64
    public let resource: String
    public let namespace: String
    public let object: JSONValue
}

/// Why a store operation was refused.
public enum StoreError: Error, Equatable {
    case alreadyExists
    case notFound
    /// The caller's resourceVersion is not the stored one.
    case conflict
    /// A watch asked for changes older than the store still remembers.
    case expired(oldest: Int64)
    /// SQLite failed, or a stored object could not be read back: the cause, naming the object where one is known.
    case database(String)
}

/// Objects in SQLite, one row each, under a global resourceVersion that every write increases. A write is one
/// transaction; watchers hear of it only after it is committed.
public final class ObjectStore: @unchecked Sendable {
    private let database: SQLiteDatabase
    private let lock = NSLock()
    /// The last version written; read and changed only under `lock`.
    private var version: Int64 = 0
    private var history: [WatchEvent] = []
    private let historyLimit: Int
    /// Changes after this version are all in `history`.
    private var historyFloor: Int64 = 0
    private var watchers: [Int: (filter: (WatchEvent) -> Bool, deliver: (WatchEvent) -> Void)] = [:]
    private var nextWatcher = 0

    public init(path: String, historyLimit: Int = 50_000) throws(SQLiteError) {
        database = try SQLiteDatabase(path: path)
        self.historyLimit = historyLimit
        try database.execute("""
            CREATE TABLE IF NOT EXISTS objects (resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                resource_version INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (resource, namespace, name));
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO counters VALUES ('resource_version', 1000);
            """)
        version = try database.query("SELECT value FROM counters WHERE name = 'resource_version'").first?.first?.integer ?? 1000
        historyFloor = version
    }

    /// The version of the last write: every object and list the store returns is at this version or older.
    public var resourceVersion: Int64 {
        lock.lock(); defer { lock.unlock() }
        return version
    }

    /// The stored object, nil when there is none. Throws `StoreError.database` when SQLite fails or the row is unreadable.
    public func get(_ resource: String, namespace: String, name: String) throws(StoreError) -> JSONValue? {
        lock.lock(); defer { lock.unlock() }
        return try reading { try stored(resource, namespace: namespace, name: name) }
    }

    /// Objects of a resource, in one namespace or all (nil), ordered by namespace and name, and the version they are at.
    public func list(_ resource: String, namespace: String?) throws(StoreError) -> (items: [JSONValue], resourceVersion: Int64) {
        let page = try page(resource, namespace: namespace, after: nil, limit: Int.max) { _ in true }
        return (page.items, page.resourceVersion)
    }

    /// One page of a resource's objects in (namespace, name) order: those after `after` that `filter` accepts, at
    /// most `limit` of them, and where the next page starts (nil when this is the last). Rows are read and parsed
    /// only as far as the page needs.
    public func page(_ resource: String, namespace: String?, after: (namespace: String, name: String)?, limit: Int,
                     filter: (JSONValue) -> Bool) throws(StoreError) -> (items: [JSONValue], next: (namespace: String, name: String)?, resourceVersion: Int64) {
        lock.lock(); defer { lock.unlock() }
        var sql = "SELECT namespace, name, body FROM objects WHERE resource = ?"
        var parameters: [SQLiteDatabase.Value] = [.text(resource)]
        if let namespace { sql += " AND namespace = ?"; parameters.append(.text(namespace)) }
        if let after { sql += " AND (namespace, name) > (?, ?)"; parameters += [.text(after.namespace), .text(after.name)] }
        sql += " ORDER BY namespace, name"
        var items: [JSONValue] = []
        var last: (String, String)?
        var more = false
        var damaged: StoreError?
        try reading {
            try database.forEachRow(sql, parameters) { row in
                let namespace = row[0].text ?? "", name = row[1].text ?? ""
                let object: JSONValue
                do throws(StoreError) { object = try Self.decode(row[2], resource, namespace, name) } catch { damaged = error; return false }
                guard filter(object) else { return true }
                if items.count == limit { more = true; return false }
                items.append(object)
                last = (namespace, name)
                return true
            }
        }
        if let damaged { throw damaged }
        return (items, more ? last : nil, version)
    }

    /// How many objects are stored.
    public func count() throws(StoreError) -> Int {
        lock.lock(); defer { lock.unlock() }
        return Int(try reading { try database.query("SELECT COUNT(*) FROM objects").first?.first?.integer } ?? 0)
    }

    /// Stores a new object; `prepare` gets the resourceVersion it will carry and returns the object to store.
    public func create(_ resource: String, namespace: String, name: String,
                       _ prepare: (Int64) -> JSONValue) throws -> JSONValue {
        try write(resource, namespace: namespace, name: name, kind: .added) { existing, version in
            guard existing == nil else { throw StoreError.alreadyExists }
            return prepare(version)
        }
    }

    /// Replaces a stored object; `change` sees the current one and returns the new one, or nil for no change
    /// (then nothing is written and the version does not move).
    public func update(_ resource: String, namespace: String, name: String,
                       _ change: (JSONValue, Int64) throws -> JSONValue?) throws -> JSONValue {
        var unchanged: JSONValue?
        let result = try write(resource, namespace: namespace, name: name, kind: .modified) { existing, version in
            guard let existing else { throw StoreError.notFound }
            guard let updated = try change(existing, version) else {
                unchanged = existing
                return nil
            }
            return updated
        }
        return unchanged ?? result
    }

    /// Removes an object and returns it as it was (with a new resourceVersion, as Kubernetes reports deletions).
    public func delete(_ resource: String, namespace: String, name: String) throws -> JSONValue {
        try committing {
            guard var object = try stored(resource, namespace: namespace, name: name) else { throw StoreError.notFound }
            let version = try nextVersion()
            try database.query("DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", [.text(resource), .text(namespace), .text(name)])
            object["metadata"]?["resourceVersion"] = .string(String(version))
            return (object, WatchEvent(kind: .deleted, resourceVersion: version, resource: resource, namespace: namespace, object: object))
        }
    }

    /// Calls `deliver` for every change after `fromVersion` that `filter` accepts, first those already past, then
    /// new ones as they commit. `deliver` runs under the store's lock: it must hand the event on, not work on it.
    /// Returns a token for `stopWatching`.
    public func watch(from fromVersion: Int64?, filter: @escaping (WatchEvent) -> Bool,
                      deliver: @escaping (WatchEvent) -> Void) throws -> Int {
        lock.lock(); defer { lock.unlock() }
        if let fromVersion {
            guard fromVersion >= historyFloor else { throw StoreError.expired(oldest: historyFloor) }
            for event in history where event.resourceVersion > fromVersion && filter(event) { deliver(event) }
        }
        nextWatcher += 1
        watchers[nextWatcher] = (filter, deliver)
        return nextWatcher
    }

    /// How many watches are open.
    public var watcherCount: Int {
        lock.lock(); defer { lock.unlock() }
        return watchers.count
    }

    public func stopWatching(_ token: Int) {
        lock.lock(); defer { lock.unlock() }
        watchers[token] = nil
    }

    // MARK: - Writing

    private func nextVersion() throws -> Int64 {
        version += 1
        try database.query("UPDATE counters SET value = ? WHERE name = 'resource_version'", [.integer(version)])
        return version
    }

    private func write(_ resource: String, namespace: String, name: String, kind: WatchEvent.Kind,
                       _ body: (JSONValue?, Int64) throws -> JSONValue?) throws -> JSONValue {
        try committing {
            let existing = try stored(resource, namespace: namespace, name: name)
            guard let object = try body(existing, version + 1) else { return (existing ?? .null, nil) }
            let version = try nextVersion()
            try database.query("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                               [.text(resource), .text(namespace), .text(name), .integer(version), .blob(object.serializedBytes)])
            return (object, WatchEvent(kind: kind, resourceVersion: version, resource: resource, namespace: namespace, object: object))
        }
    }

    /// One write: under the lock, in one transaction; its event is published once the transaction has committed.
    /// A failed write leaves the version where it was.
    private func committing(_ body: () throws -> (JSONValue, WatchEvent?)) throws -> JSONValue {
        lock.lock(); defer { lock.unlock() }
        let before = version
        do {
            let (result, event) = try database.transaction(body)
            if let event { publish(event) }
            return result
        } catch {
            version = before
            // The caller's own errors (a conflict found while changing the object) pass through as they are.
            if error is SQLiteError { throw StoreError.database("\(error)") }
            throw error
        }
    }

    /// The stored object, read inside the caller's lock.
    private func stored(_ resource: String, namespace: String, name: String) throws -> JSONValue? {
        guard let row = try database.query("SELECT body FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                                           [.text(resource), .text(namespace), .text(name)]).first else { return nil }
        return try Self.decode(row[0], resource, namespace, name)
    }

    /// A row's body as the object it holds; anything else is damage, reported with the object's key.
    private static func decode(_ body: SQLiteDatabase.Value, _ resource: String, _ namespace: String, _ name: String) throws(StoreError) -> JSONValue {
        let key = namespace.isEmpty ? "\(resource) \(name)" : "\(resource) \(namespace)/\(name)"
        guard case .blob(let bytes) = body else { throw StoreError.database("the stored \(key) is not a JSON document") }
        do {
            let object = try JSONValue.parse(bytes)
            guard object.object != nil else { throw StoreError.database("the stored \(key) is not a JSON object") }
            return object
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database("the stored \(key) cannot be read: \(error)")
        }
    }

    /// Runs a read, turning SQLite's failures into `StoreError.database`.
    private func reading<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database("\(error)")
        }
    }

    /// Records a committed change and hands it to the watchers that want it, in commit order (the caller holds the
    /// lock; delivery must not block).
    private func publish(_ event: WatchEvent) {
        history.append(event)
        if history.count > historyLimit {
            let dropped = history.count - historyLimit
            historyFloor = history[dropped - 1].resourceVersion
            history.removeFirst(dropped)
        }
        for watcher in watchers.values where watcher.filter(event) { watcher.deliver(event) }
    }
}
