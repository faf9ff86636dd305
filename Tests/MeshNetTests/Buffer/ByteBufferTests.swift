import XCTest
@testable import MeshNet

final class ByteBufferTests: XCTestCase {
    func testWritesAndReadsMoveTheirIndices() {
        var buffer = ByteBuffer(capacity: 4)
        buffer.writeString("hello, ")
        buffer.writeBytes(Array("world".utf8))
        XCTAssertEqual(buffer.readableBytes, 12)
        XCTAssertEqual(buffer.writerIndex, 12)
        XCTAssertGreaterThanOrEqual(buffer.capacity, 12, "grew past its first capacity")
        XCTAssertEqual(buffer.readBytes(length: 5), Array("hello".utf8))
        XCTAssertEqual(buffer.readerIndex, 5)
        XCTAssertNil(buffer.readBytes(length: 8), "only 7 are left")
        XCTAssertEqual(buffer.readableArray, Array(", world".utf8))
        XCTAssertEqual(buffer.firstIndex(of: UInt8(ascii: "w")), 2)
    }

    func testStaticTextAndDecimalsAreWrittenAsTheirBytes() {
        var buffer = ByteBuffer(capacity: 2)
        buffer.writeStaticString("Content-Length: ")
        buffer.writeDecimal(0)
        buffer.writeStaticString(" ")
        buffer.writeDecimal(1234567890)
        buffer.writeStaticString(" ")
        buffer.writeDecimal(-42)
        buffer.writeStaticString(" ")
        buffer.writeDecimal(Int.max)
        buffer.writeStaticString(" ")
        buffer.writeDecimal(Int.min)
        XCTAssertEqual(String(decoding: buffer.readableArray, as: UTF8.self),
                       "Content-Length: 0 1234567890 -42 \(Int.max) \(Int.min)", "grows as needed, digits as String(Int) writes them")
        var one = ByteBuffer()
        one.writeStaticString("x")
        XCTAssertEqual(one.readableArray, [UInt8(ascii: "x")], "a one-character literal")
    }

    func testACursorWritesIntoRoomReservedOnce() {
        var buffer = ByteBuffer(string: "ab")
        buffer.moveReaderIndex(forwardBy: 1)
        let shared = buffer
        var written = -1
        buffer.write(reserving: 64) { cursor in
            cursor.write("static ")
            cursor.write(String(repeating: "n", count: 20) + " ")
            cursor.write("small ")
            cursor.write([UInt8(ascii: "["), UInt8(ascii: "]")])
            cursor.writeDecimal(-7)
            written = cursor.written
        }
        XCTAssertEqual(written, 7 + 21 + 6 + 2 + 2)
        XCTAssertEqual(String(decoding: buffer.readableArray, as: UTF8.self), "bstatic nnnnnnnnnnnnnnnnnnnn small []-7")
        XCTAssertEqual(shared.readableArray, [UInt8(ascii: "b")], "a copy sharing the storage keeps its bytes (the room was made in a copy)")
        buffer.write(reserving: 0) { _ in }
        XCTAssertEqual(buffer.readableBytes, 1 + written, "nothing written, nothing added")
    }

    func testSlicesShareStorageAndCopyOnlyWhenWritten() {
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n")
        let method = buffer.readSlice(length: 3)!
        XCTAssertTrue(method.sharesStorage(with: buffer), "a slice is a view, not a copy")
        XCTAssertEqual(method.readableArray, Array("GET".utf8))
        XCTAssertEqual(method.readerIndex, 0, "a slice's indices count from its own start")

        var changed = method
        changed.writeString("X")
        XCTAssertFalse(changed.sharesStorage(with: buffer), "writing to a shared slice copies it")
        XCTAssertEqual(changed.readableArray, Array("GETX".utf8))
        XCTAssertEqual(method.readableArray, Array("GET".utf8), "the original slice is untouched")
        XCTAssertEqual(buffer.readableArray, Array(" / HTTP/1.1\r\n".utf8), "and so is the buffer")

        var copy = buffer
        copy.writeString("Host: x\r\n")
        XCTAssertEqual(buffer.readableBytes, 13, "a copy's write does not show in the original")
        XCTAssertEqual(copy.readableBytes, 22)
    }

    func testAUniqueBufferReadToItsEndIsReusedNotGrown() {
        var buffer = ByteBuffer(capacity: 16)
        for _ in 0..<100 {
            buffer.writeString("0123456789")
            XCTAssertEqual(buffer.readBytes(length: 10)?.count, 10)
        }
        XCTAssertEqual(buffer.capacity, 16)
    }

    func testDiscardReadBytesKeepsTheRest() {
        var buffer = ByteBuffer(string: "abcdef")
        buffer.moveReaderIndex(forwardBy: 4)
        buffer.discardReadBytes()
        XCTAssertEqual(buffer.readerIndex, 0)
        XCTAssertEqual(buffer.readableArray, Array("ef".utf8))
        XCTAssertEqual(ByteBuffer(string: "ef"), buffer)
    }

    func testFillingWritableBytesDirectly() {
        var buffer = ByteBuffer(capacity: 8)
        let filled = buffer.withUnsafeMutableWritableBytes { space -> Int in
            space[0] = 1; space[1] = 2; space[2] = 3
            return 3
        }
        buffer.moveWriterIndex(forwardBy: filled)
        XCTAssertEqual(buffer.readableArray, [1, 2, 3])
    }

    func testTheReceiveBufferIsReusedUnlessASliceIsKept() {
        var receive = ReceiveBuffer()
        let first = receive.receive { space in space.copyBytes(from: Array("one".utf8)); return 3 }!
        let second = receive.receive { space in space.copyBytes(from: Array("two".utf8)); return 3 }!
        XCTAssertTrue(first.sharesStorage(with: second), "a kept slice leaves the rest of the block to later reads")
        XCTAssertEqual(first.readableArray, Array("one".utf8), "and is not overwritten")
        XCTAssertEqual(second.readableArray, Array("two".utf8))
        XCTAssertNil(receive.receive { _ in 0 }, "nothing read, nothing handed out")
    }

    func testPendingWritesCoalesceSmallWritesAndConsumeAcrossBuffers() {
        var pending = PendingWrites()
        pending.append(bytes: Array("HTTP/1.1 200 OK\r\n".utf8))
        pending.append(bytes: Array("\r\n".utf8))
        pending.append(ByteBuffer(string: "body"))
        XCTAssertEqual(pending.bytes, 23)
        var regions: [[UInt8]] = []
        pending.forEachFront(limit: 8) { pointer, count in regions.append(Array(UnsafeRawBufferPointer(start: pointer, count: count))) }
        XCTAssertEqual(regions.map { String(decoding: $0, as: UTF8.self) }, ["HTTP/1.1 200 OK\r\n\r\n", "body"])
        pending.consume(20)
        XCTAssertEqual(pending.first?.readableArray, Array("ody".utf8))
        pending.consume(3)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertNil(pending.first)
    }
}
