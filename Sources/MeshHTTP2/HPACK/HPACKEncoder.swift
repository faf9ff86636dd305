/// Turns header lists into header blocks (RFC 7541 sections 4 and 6), keeping a dynamic table in step with the
/// peer's decoder. Fields found whole in a table are sent as an index; others as literals, added to the table
/// unless marked otherwise; credentials (`authorization`, `proxy-authorization`) are always never-indexed.
public struct HPACKEncoder: Sendable {
    private var table: DynamicTable
    /// The most this side will keep, whatever the peer allows.
    public let preferredTableSize: Int
    /// Table size changes to announce at the start of the next block: the smallest reached, then the final one.
    private var pendingUpdates: (smallest: Int, final: Int)?
    /// nil: Huffman-code a string when that is shorter; true or false: always or never.
    public var huffman: Bool?

    public init(preferredTableSize: Int = 4096, huffman: Bool? = nil) {
        self.preferredTableSize = preferredTableSize
        self.huffman = huffman
        table = DynamicTable(maximumSize: min(preferredTableSize, 4096))
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE; the change is announced at the start of the next block.
    public mutating func setPeerTableSizeLimit(_ limit: Int) {
        let size = min(limit, preferredTableSize)
        guard size != table.maximumSize || pendingUpdates != nil else { return }
        let smallest = min(pendingUpdates?.smallest ?? size, size)
        pendingUpdates = (smallest, size)
        table.resize(to: size)
    }

    public var dynamicTableSize: Int { table.size }
    public var dynamicTableEntries: [HeaderField] { table.entries }

    public mutating func encode(_ fields: [HeaderField]) -> [UInt8] {
        var out: [UInt8] = []
        encode(fields, into: &out)
        return out
    }

    public mutating func encode(_ fields: [HeaderField], into out: inout [UInt8]) {
        if let updates = pendingUpdates {
            if updates.smallest < updates.final {
                HPACKWriter.writeInteger(updates.smallest, prefixBits: 5, flags: 0x20, into: &out)
            }
            HPACKWriter.writeInteger(updates.final, prefixBits: 5, flags: 0x20, into: &out)
            pendingUpdates = nil
        }
        for field in fields { encode(field, into: &out) }
    }

    private mutating func encode(_ field: HeaderField, into out: inout [UInt8]) {
        var indexing = field.indexing
        if field.name == "authorization" || field.name == "proxy-authorization" { indexing = .neverIndexed }
        let fromStatic = StaticTable.find(name: field.name, value: field.value)
        let fromDynamic = table.find(name: field.name, value: field.value)
        if indexing == .indexable {
            if let index = fromStatic.fullIndex ?? fromDynamic.fullIndex.map({ $0 + StaticTable.count }) {
                HPACKWriter.writeInteger(index, prefixBits: 7, flags: 0x80, into: &out)
                return
            }
        }
        let nameIndex = fromStatic.nameIndex ?? fromDynamic.nameIndex.map { $0 + StaticTable.count } ?? 0
        let indexes = indexing == .indexable && DynamicTable.entrySize(name: field.name, value: field.value) <= table.maximumSize
        switch (indexing, indexes) {
        case (.indexable, true): HPACKWriter.writeInteger(nameIndex, prefixBits: 6, flags: 0x40, into: &out)
        case (.neverIndexed, _): HPACKWriter.writeInteger(nameIndex, prefixBits: 4, flags: 0x10, into: &out)
        default: HPACKWriter.writeInteger(nameIndex, prefixBits: 4, flags: 0x00, into: &out)
        }
        if nameIndex == 0 { HPACKWriter.writeString(field.name, huffman: huffman, into: &out) }
        HPACKWriter.writeString(field.value, huffman: huffman, into: &out)
        if indexes { table.add(field) }
    }
}
