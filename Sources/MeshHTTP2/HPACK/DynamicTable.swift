/// HPACK's dynamic table (RFC 7541 section 2.3.2 and 4): newest entry first, sized by the RFC's rule (name and
/// value bytes plus 32 per entry), oldest entries evicted to make room.
struct DynamicTable {
    /// Newest last, so adding is an append; index 1 is `storage.last`.
    private var storage: [HeaderField] = []
    /// Current size by the RFC's rule.
    private(set) var size = 0
    /// The most `size` may reach now (changed by table size updates).
    private(set) var maximumSize: Int

    init(maximumSize: Int) { self.maximumSize = maximumSize }

    var count: Int { storage.count }

    /// Entry `index`, 1 being the newest; nil when out of range.
    subscript(index: Int) -> HeaderField? {
        guard index >= 1 && index <= storage.count else { return nil }
        return storage[storage.count - index]
    }

    static func entrySize(name: String, value: String) -> Int { name.utf8.count + value.utf8.count + 32 }

    /// Adds an entry, evicting old ones first; an entry larger than the table empties it and is not added.
    mutating func add(_ field: HeaderField) {
        let entrySize = Self.entrySize(name: field.name, value: field.value)
        evict(toFit: maximumSize - entrySize)
        guard entrySize <= maximumSize else { return }
        storage.append(HeaderField(name: field.name, value: field.value))
        size += entrySize
    }

    mutating func resize(to maximumSize: Int) {
        self.maximumSize = maximumSize
        evict(toFit: maximumSize)
    }

    private mutating func evict(toFit target: Int) {
        var dropped = 0
        while size > max(target, 0) && dropped < storage.count {
            let oldest = storage[dropped]
            size -= Self.entrySize(name: oldest.name, value: oldest.value)
            dropped += 1
        }
        if dropped > 0 { storage.removeFirst(dropped) }
    }

    /// The index (1-based) of an entry with this name and value, and of one with this name.
    /// Lengths are compared before bytes: most entries differ in length, and a length costs far less than
    /// String's comparison.
    func find(name: String, value: String) -> (nameIndex: Int?, fullIndex: Int?) {
        var nameIndex: Int?
        let nameLength = name.utf8.count, valueLength = value.utf8.count
        var position = storage.count - 1
        while position >= 0 {
            defer { position -= 1 }
            let entry = storage[position]
            guard entry.name.utf8.count == nameLength, entry.name == name else { continue }
            let index = storage.count - position
            if entry.value.utf8.count == valueLength && entry.value == value { return (nameIndex ?? index, index) }
            if nameIndex == nil { nameIndex = index }
        }
        return (nameIndex, nil)
    }

    /// The entries newest first, for tests and diagnostics.
    var entries: [HeaderField] { storage.reversed() }
}
