import MeshNet

/// Turns header blocks into header lists (RFC 7541 sections 3 and 6), keeping the dynamic table the peer's
/// encoder builds. One per connection direction; blocks must be decoded in the order they arrived.
public struct HPACKDecoder: Sendable {
    private var table: DynamicTable
    /// The table size this side announced (SETTINGS_HEADER_TABLE_SIZE): the most an update may ask for.
    public private(set) var tableSizeLimit: Int
    /// The largest header list accepted (name and value bytes plus 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE
    /// counts); a larger one throws `headerListTooLarge` once the whole block was read, so the table stays right.
    public var maximumHeaderListSize: Int

    public init(tableSizeLimit: Int = 4096, maximumHeaderListSize: Int = 64 * 1024) {
        table = DynamicTable(maximumSize: tableSizeLimit)
        self.tableSizeLimit = tableSizeLimit
        self.maximumHeaderListSize = maximumHeaderListSize
    }

    /// Changes the limit after this side's SETTINGS with a new SETTINGS_HEADER_TABLE_SIZE was acknowledged.
    public mutating func setTableSizeLimit(_ limit: Int) {
        tableSizeLimit = limit
        if table.maximumSize > limit { table.resize(to: limit) }
    }

    /// The dynamic table's size now, by the RFC's rule.
    public var dynamicTableSize: Int { table.size }
    /// The dynamic table's entries, newest first.
    public var dynamicTableEntries: [HeaderField] { table.entries }

    public mutating func decode(_ block: ByteBuffer) throws(HPACKError) -> [HeaderField] {
        try block.withUnsafeReadableBytes { bytes in Result { () throws(HPACKError) in try decode(bytes) } }.get()
    }

    public mutating func decode(_ bytes: [UInt8]) throws(HPACKError) -> [HeaderField] {
        try bytes.withUnsafeBytes { bytes in Result { () throws(HPACKError) in try decode(bytes) } }.get()
    }

    mutating func decode(_ bytes: UnsafeRawBufferPointer) throws(HPACKError) -> [HeaderField] {
        var reader = HPACKReader(bytes: bytes)
        var fields: [HeaderField] = []
        var listSize = 0
        while !reader.atEnd {
            let first = try reader.peek()
            let field: HeaderField
            if first & 0x80 != 0 {
                field = try entry(at: reader.readInteger(prefixBits: 7))
            } else if first & 0xc0 == 0x40 {
                field = try literal(&reader, prefixBits: 6, indexing: .indexable)
                table.add(field)
            } else if first & 0xe0 == 0x20 {
                // A size update is allowed only before the first field of a block.
                guard fields.isEmpty else { throw .tableSizeUpdateNotAtStart }
                let size = try reader.readInteger(prefixBits: 5)
                guard size <= tableSizeLimit else { throw .tableSizeUpdateTooLarge(requested: size, limit: tableSizeLimit) }
                table.resize(to: size)
                continue
            } else {
                field = try literal(&reader, prefixBits: 4, indexing: first & 0x10 != 0 ? .neverIndexed : .notIndexed)
            }
            listSize += DynamicTable.entrySize(name: field.name, value: field.value)
            fields.append(field)
        }
        if listSize > maximumHeaderListSize { throw .headerListTooLarge(limit: maximumHeaderListSize) }
        return fields
    }

    private func entry(at index: Int) throws(HPACKError) -> HeaderField {
        guard index > 0 else { throw .indexZero }
        if index <= StaticTable.count {
            let entry = StaticTable.entries[index - 1]
            return HeaderField(name: entry.name, value: entry.value)
        }
        guard let field = table[index - StaticTable.count] else { throw .indexOutOfRange(index) }
        return field
    }

    private func literal(_ reader: inout HPACKReader, prefixBits: Int, indexing: HeaderField.Indexing) throws(HPACKError) -> HeaderField {
        let nameIndex = try reader.readInteger(prefixBits: prefixBits)
        let name = nameIndex == 0 ? try reader.readString() : try entry(at: nameIndex).name
        let value = try reader.readString()
        return HeaderField(name: name, value: value, indexing: indexing)
    }
}
