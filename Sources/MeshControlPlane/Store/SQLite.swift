import CSQLite
import CSQLiteShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An SQLite failure, with SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// SQLite itself. meshctl does not link it: it opens it when the first database is opened (only local mode's store
/// uses one, and mapping it cost every meshctl start). `MESHCTL_LIBSQLITE` names another file to open instead of the
/// system's `libsqlite3.so.0`.
public enum SQLiteLibrary {
    /// The file SQLite is opened from.
    public static var file: String {
        if let chosen = getenv("MESHCTL_LIBSQLITE"), chosen.pointee != 0 { return String(cString: chosen) }
        #if os(macOS)
        return "libsqlite3.dylib"
        #else
        return "libsqlite3.so.0"
        #endif
    }

    /// Opens SQLite, once per process; when it cannot be opened, an error that says which package to install.
    public static func load() throws(SQLiteError) {
        guard let failure = CSQLiteShims_load(file) else { return }
        throw SQLiteError(description: "meshctl keeps local mode's objects in SQLite, which could not be loaded ("
                          + String(cString: failure) + "); install it with: apt-get install libsqlite3-0")
    }
}

/// meshctl's one door to SQLite: a connection, prepared statements and transactions.
public final class SQLiteDatabase: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating) the database file, in WAL mode: readers never wait for the writer, and a committed
    /// transaction survives the process being killed.
    public init(path: String) throws(SQLiteError) {
        try SQLiteLibrary.load()
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard CSQLiteShims_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: CSQLiteShims_errmsg($0)) } ?? "out of memory"
            CSQLiteShims_close(handle)
            handle = nil  // deinit runs after a throwing init: it must not close it again
            throw SQLiteError(description: "cannot open \(path): \(message)")
        }
        CSQLiteShims_busy_timeout(handle, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
    }

    deinit {
        // No handle: SQLite could not be loaded (or opened), and there is nothing to close.
        guard let handle else { return }
        for statement in statements.values { CSQLiteShims_finalize(statement) }
        CSQLiteShims_close(handle)
    }

    /// Runs SQL that returns no rows (several statements allowed).
    public func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        guard CSQLiteShims_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            CSQLiteShims_free(error)
            throw SQLiteError(description: message)
        }
    }

    /// A value bound to a `?` parameter, or read from a column.
    public enum Value: Equatable, Sendable {
        case null
        case integer(Int64)
        case text(String)
        case blob([UInt8])

        public var integer: Int64? { if case .integer(let value) = self { return value } else { return nil } }
        public var text: String? { if case .text(let value) = self { return value } else { return nil } }
    }

    /// Runs one statement with parameters and returns its rows. Statements are prepared once and reused.
    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) throws(SQLiteError) -> [[Value]] {
        var rows: [[Value]] = []
        try forEachRow(sql, parameters) { rows.append($0); return true }
        return rows
    }

    /// Runs one statement and hands each row to `body` as it is read, until `body` returns false.
    public func forEachRow(_ sql: String, _ parameters: [Value], _ body: ([Value]) -> Bool) throws(SQLiteError) {
        let statement = try prepared(sql)
        defer {
            CSQLiteShims_reset(statement)
            CSQLiteShims_clear_bindings(statement)
        }
        // SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            switch parameter {
            case .null: CSQLiteShims_bind_null(statement, position)
            case .integer(let value): CSQLiteShims_bind_int64(statement, position, value)
            case .text(let value): CSQLiteShims_bind_text(statement, position, value, -1, transient)
            case .blob(let value): _ = value.withUnsafeBytes { CSQLiteShims_bind_blob(statement, position, $0.baseAddress, Int32($0.count), transient) }
            }
        }
        while true {
            let result = CSQLiteShims_step(statement)
            if result == SQLITE_DONE { break }
            guard result == SQLITE_ROW else { throw error("step") }
            var row: [Value] = []
            for column in 0..<CSQLiteShims_column_count(statement) {
                switch CSQLiteShims_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(CSQLiteShims_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let bytes = UnsafeRawBufferPointer(start: CSQLiteShims_column_text(statement, column), count: Int(CSQLiteShims_column_bytes(statement, column)))
                    row.append(.text(String(decoding: bytes, as: UTF8.self)))
                case SQLITE_BLOB:
                    let count = Int(CSQLiteShims_column_bytes(statement, column))
                    row.append(.blob(count == 0 ? [] : Array(UnsafeRawBufferPointer(start: CSQLiteShims_column_blob(statement, column), count: count))))
                default: row.append(.null)
                }
            }
            if !body(row) { break }
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(CSQLiteShims_changes(handle)) }

    /// Runs `body` in one transaction: all of it is committed, or none of it when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard CSQLiteShims_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw error("prepare \(sql)") }
        statements[sql] = statement
        return statement
    }

    private func error(_ what: String) -> SQLiteError {
        SQLiteError(description: "\(what): \(String(cString: CSQLiteShims_errmsg(handle)))")
    }
}
