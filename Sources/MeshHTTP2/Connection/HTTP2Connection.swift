import MeshNet

/// An HTTP/2 connection as a state machine without I/O (RFC 9113): bytes from the peer go into `receive`, which
/// returns what happened; frames to send collect in `takeOutput`. Server or client role, with the preface and
/// SETTINGS exchange, stream states, the concurrent stream limit, flow control both ways (data waits for window),
/// PING, GOAWAY, RST_STREAM and header validation. Not thread-safe: one owner drives it.
public final class HTTP2Connection {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let localSettings: HTTP2LocalSettings
    private var peerSettings = HTTP2PeerSettings()
    private var decoder: HTTP2FrameDecoder
    private var hpackDecoder: HPACKDecoder
    private var hpackEncoder = HPACKEncoder()
    private var output = ByteBuffer(capacity: 1024)
    private var events: [HTTP2Event] = []

    private var streams: [UInt32: StreamRecord] = [:]
    /// Streams with data waiting for window, in the order they started waiting.
    private var blockedStreams: [UInt32] = []
    /// Streams this side reset lately: frames the peer had in flight for them are ignored.
    private var recentlyReset: Set<UInt32> = []
    private var recentlyResetOrder: [UInt32] = []

    private var connectionSendWindow = 65_535
    private var connectionReceiveWindow: Int
    /// Received bytes taken by this side and not yet given back with a WINDOW_UPDATE.
    private var connectionUnreturned = 0
    private var nextLocalStreamID: UInt32
    /// The highest stream the peer opened (streams at or below it that are not kept are closed).
    public private(set) var lastPeerStreamID: UInt32 = 0

    private var prefaceBytesSeen = 0
    private var settingsReceived = false
    private var unacknowledgedSettings = 1
    /// A header block still being read: its stream, fragments so far, and the HEADERS frame's END_STREAM and priority.
    private var openHeaderBlock: (streamID: UInt32, block: ByteBuffer, endStream: Bool, dependency: UInt32?, frames: Int)?
    /// CONTINUATION frames one header block may take: empty ones cost nothing to send and would never end.
    static let maximumContinuationFrames = 128

    public private(set) var goAwaySent: UInt32?
    public private(set) var goAwayReceived: UInt32?
    /// A connection error happened; nothing more is read.
    public private(set) var failed: HTTP2Error?
    /// What happened so far, by Envoy's `http2.*` counter names.
    public private(set) var counters = HTTP2ConnectionCounters()
    private var floodGuard: HTTP2FloodGuard

    public init(role: Role, settings: HTTP2LocalSettings = HTTP2LocalSettings()) {
        self.role = role
        localSettings = settings
        decoder = HTTP2FrameDecoder(maximumFrameSize: settings.maxFrameSize)
        hpackDecoder = HPACKDecoder(tableSizeLimit: settings.headerTableSize, maximumHeaderListSize: settings.maxHeaderListSize)
        connectionReceiveWindow = settings.connectionWindowSize
        floodGuard = HTTP2FloodGuard(limits: settings.floodLimits)
        nextLocalStreamID = role == .client ? 1 : 2
        if role == .client { output.writeBytes(HTTP2Preface.bytes) }
        write(HTTP2Frame(streamID: 0, payload: .settings(settings.frame(role: role), ack: false)))
        if settings.connectionWindowSize > 65_535 {
            write(HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: UInt32(settings.connectionWindowSize - 65_535))))
        }
    }

    // MARK: Output

    /// Bytes to send, and empties the queue; nil when there are none.
    public func takeOutput() -> ByteBuffer? {
        guard output.readableBytes > 0 else { return nil }
        let bytes = output
        output = ByteBuffer(capacity: 1024)
        return bytes
    }

    public var hasOutput: Bool { output.readableBytes > 0 }

    private func write(_ frame: HTTP2Frame) { HTTP2FrameEncoder.encode(frame, into: &output) }

    // MARK: State for callers

    /// Streams not yet closed.
    public var activeStreamCount: Int { streams.count }

    /// After a GOAWAY either way, with no stream left: the connection can be closed once the output is written.
    public var isFinished: Bool { failed != nil || ((goAwaySent != nil || goAwayReceived != nil) && streams.isEmpty) }

    /// Bytes queued on a stream, waiting for the peer's window.
    public func pendingBytes(on streamID: UInt32) -> Int { streams[streamID]?.pendingBytes ?? 0 }

    /// DATA bytes queued on every stream, waiting for the peer's windows (Envoy's `http2.pending_send_bytes`).
    public private(set) var pendingSendBytes = 0

    /// Whether this side's END_STREAM on `streamID` went out (true for a stream that is closed or unknown); false
    /// while queued data or an end waits for the peer's window.
    public func isSendingEnded(_ streamID: UInt32) -> Bool { streams[streamID]?.state.localEnded ?? true }

    /// Whether stream `streamID` is open (not closed or reset, nor unknown).
    public func isStreamOpen(_ streamID: UInt32) -> Bool { streams[streamID] != nil }

    /// What the peer's windows let this side send now on a stream (nil for a stream not kept).
    public func sendWindow(on streamID: UInt32) -> (stream: Int, connection: Int)? {
        streams[streamID].map { ($0.sendWindow, connectionSendWindow) }
    }

    /// Whether a new stream may be opened now (client): no GOAWAY, and below the peer's concurrency limit.
    public var canOpenStream: Bool {
        goAwayReceived == nil && goAwaySent == nil && failed == nil && streams.values.filter(\.locallyInitiated).count < peerSettings.maxConcurrentStreams
    }

    // MARK: Input

    /// Reads bytes from the peer; returns what they meant. After a connection error, returns nothing more.
    public func receive(_ bytes: ByteBuffer) -> [HTTP2Event] {
        guard failed == nil else { return [] }
        var bytes = bytes
        if role == .server && prefaceBytesSeen < HTTP2Preface.bytes.count {
            let take = min(bytes.readableBytes, HTTP2Preface.bytes.count - prefaceBytesSeen)
            let got = bytes.readBytes(length: take)!
            guard got.elementsEqual(HTTP2Preface.bytes[prefaceBytesSeen..<(prefaceBytesSeen + take)]) else {
                fail(.connection(.protocolError, "the connection does not start with the HTTP/2 client preface"))
                return flushEvents()
            }
            prefaceBytesSeen += take
        }
        decoder.feed(bytes)
        while failed == nil {
            do {
                guard let frame = try decoder.next() else { break }
                try handle(frame)
            } catch {
                if let stream = error.streamID {
                    if error.code == .refusedStream { counters.refusedStreams += 1 }
                    if error.code == .protocolError { counters.messagingErrors += 1 }
                    reset(stream, error.code, reason: error.reason)
                } else {
                    fail(error)
                }
            }
        }
        return flushEvents()
    }

    private func flushEvents() -> [HTTP2Event] {
        let happened = events
        events.removeAll(keepingCapacity: true)
        return happened
    }

    private func handle(_ frame: HTTP2Frame) throws(HTTP2Error) {
        if !settingsReceived {
            guard case .settings(_, ack: false) = frame.payload else {
                throw .connection(.protocolError, "the peer's first frame is not SETTINGS")
            }
        }
        if let flood = floodGuard.track(frame) {
            switch flood {
            case .emptyFrames: counters.emptyFramesFloods += 1
            case .priorityFrames: counters.priorityFramesFloods += 1
            case .windowUpdateFrames: counters.windowUpdateFramesFloods += 1
            }
            throw .connection(.enhanceYourCalm, "too many \(flood) from the peer")
        }
        let id = frame.streamID
        switch frame.payload {
        case .data(let data, let endStream, _):
            try receiveData(id, data, endStream: endStream, flowControlled: frame.flowControlledLength)
        case .headers(let headers):
            if headers.endHeaders {
                try receiveHeaderBlock(id, headers.fragment, endStream: headers.endStream, dependency: headers.priority?.dependency)
            } else {
                openHeaderBlock = (id, headers.fragment, headers.endStream, headers.priority?.dependency, 1)
            }
        case .continuation(let fragment, let endHeaders):
            guard var open = openHeaderBlock else { throw .connection(.protocolError, "CONTINUATION for a PUSH_PROMISE") }
            open.block.writeBuffer(fragment)
            open.frames += 1
            guard open.frames <= Self.maximumContinuationFrames else {
                throw .connection(.enhanceYourCalm, "header block on stream \(id) spans more than \(Self.maximumContinuationFrames) frames")
            }
            guard open.block.readableBytes <= localSettings.maxHeaderListSize * 2 + 16_384 else {
                throw .connection(.enhanceYourCalm, "header block on stream \(id) grows past \(localSettings.maxHeaderListSize * 2 + 16_384) bytes")
            }
            if endHeaders {
                openHeaderBlock = nil
                try receiveHeaderBlock(id, open.block, endStream: open.endStream, dependency: open.dependency)
            } else {
                openHeaderBlock = open
            }
        case .priority:
            break
        case .rstStream(let code):
            if isIdle(id) { throw .connection(.protocolError, "RST_STREAM on idle stream \(id)") }
            if let stream = streams.removeValue(forKey: id) {
                counters.resetsReceived += 1
                pendingSendBytes -= stream.pendingBytes
                events.append(.streamReset(streamID: id, code: code, byPeer: true))
                if !stream.locallyInitiated { try countPeerReset() }
            }
        case .settings(let settings, let ack):
            if ack {
                unacknowledgedSettings = max(0, unacknowledgedSettings - 1)
            } else {
                settingsReceived = true
                try apply(settings)
                write(HTTP2Frame(streamID: 0, payload: .settings([], ack: true)))
                flushBlockedStreams()
            }
        case .pushPromise:
            throw .connection(.protocolError, role == .server ? "PUSH_PROMISE sent by a client" : "PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0")
        case .ping(let opaque, let ack):
            if ack { events.append(.pingAcknowledged(opaque: opaque)) } else { write(HTTP2Frame(streamID: 0, payload: .ping(opaque: opaque, ack: true))) }
        case .goAway(let last, let code, let debug):
            receiveGoAway(last, code, debug)
        case .windowUpdate(let increment):
            try receiveWindowUpdate(id, Int(increment))
        case .unknown:
            break
        }
    }

    /// Whether `id` names a stream that has never been opened (by either side).
    private func isIdle(_ id: UInt32) -> Bool {
        guard id != 0 else { return false }
        let peerInitiated = (id % 2 == 1) == (role == .server)
        return peerInitiated ? id > lastPeerStreamID : id >= nextLocalStreamID
    }

    private func receiveData(_ id: UInt32, _ data: ByteBuffer, endStream: Bool, flowControlled: Int) throws(HTTP2Error) {
        guard flowControlled <= connectionReceiveWindow else {
            throw .connection(.flowControlError, "DATA of \(flowControlled) bytes exceeds the connection window of \(connectionReceiveWindow)")
        }
        connectionReceiveWindow -= flowControlled
        // What the application never sees (padding, DATA for a stream that is gone or refused) is given back at
        // once; what it sees, too, unless it gives bytes back itself as it consumes them (`dataConsumed`).
        var givenBackNow = flowControlled
        defer { giveBackToConnection(givenBackNow) }
        guard var stream = streams[id] else {
            if isIdle(id) { throw .connection(.protocolError, "DATA on idle stream \(id)") }
            if recentlyReset.contains(id) { return }
            throw .stream(id, .streamClosed, "DATA on closed stream \(id)")
        }
        if stream.state.remoteEnded { throw .stream(id, .streamClosed, "DATA after END_STREAM on stream \(id)") }
        if !stream.receivedHead { throw .stream(id, .protocolError, "DATA before the response head on stream \(id)") }
        guard flowControlled <= stream.receiveWindow else {
            throw .stream(id, .flowControlError, "DATA of \(flowControlled) bytes exceeds stream \(id)'s window of \(stream.receiveWindow)")
        }
        stream.receiveWindow -= flowControlled
        stream.receivedDataBytes += data.readableBytes
        if let expected = stream.expectedContentLength {
            if stream.receivedDataBytes > expected || (endStream && stream.receivedDataBytes != expected) {
                throw .stream(id, .protocolError, "DATA of \(stream.receivedDataBytes) bytes on stream \(id) does not match content-length \(expected)")
            }
        }
        if !localSettings.reopensWindowsOnReceipt { givenBackNow = flowControlled - data.readableBytes }
        streams[id] = stream
        if !endStream { giveBackToStream(id, givenBackNow) }
        events.append(.data(streamID: id, data: data, endStream: endStream))
        if endStream { remoteEnded(id) }
    }

    /// Gives `count` received bytes back to the peer's connection window; the WINDOW_UPDATE goes once half the
    /// window waits to be given back.
    private func giveBackToConnection(_ count: Int) {
        connectionUnreturned += count
        guard connectionUnreturned > 0, connectionUnreturned >= localSettings.connectionWindowSize / 2 else { return }
        write(HTTP2Frame(streamID: 0, payload: .windowUpdate(increment: UInt32(connectionUnreturned))))
        connectionReceiveWindow += connectionUnreturned
        connectionUnreturned = 0
    }

    private func giveBackToStream(_ id: UInt32, _ count: Int) {
        guard var stream = streams[id], !stream.state.remoteEnded else { return }
        stream.unreturned += count
        if stream.unreturned > 0 && stream.unreturned >= localSettings.initialWindowSize / 2 {
            write(HTTP2Frame(streamID: id, payload: .windowUpdate(increment: UInt32(stream.unreturned))))
            stream.receiveWindow += stream.unreturned
            stream.unreturned = 0
        }
        streams[id] = stream
    }

    /// The application consumed `count` bytes of a stream's DATA: the peer may send that much more (needed only
    /// when `reopensWindowsOnReceipt` is false; this is how a proxy slows a sender to its reader's pace).
    public func dataConsumed(_ count: Int, on streamID: UInt32) {
        guard !localSettings.reopensWindowsOnReceipt, count > 0, failed == nil else { return }
        giveBackToConnection(count)
        giveBackToStream(streamID, count)
    }

    private func receiveHeaderBlock(_ id: UInt32, _ block: ByteBuffer, endStream: Bool, dependency: UInt32?) throws(HTTP2Error) {
        // The block is decoded whatever becomes of the stream, so the HPACK tables stay in step.
        var fields: [HeaderField] = []
        var tooLarge = false
        do {
            fields = try hpackDecoder.decode(block)
        } catch .headerListTooLarge {
            tooLarge = true
        } catch {
            throw .connection(.compressionError, "\(error)")
        }
        if dependency == id { throw .stream(id, .protocolError, "stream \(id) depends on itself") }
        if var stream = streams[id] {
            if stream.state.remoteEnded { throw .stream(id, .streamClosed, "HEADERS after END_STREAM on stream \(id)") }
            if tooLarge { throw .stream(id, .protocolError, "header list larger than \(localSettings.maxHeaderListSize) bytes") }
            if !stream.receivedHead {
                // A client's response head, informational ones first.
                let head: HeaderValidation.Head
                do { head = try HeaderValidation.validateResponse(fields) } catch { throw .stream(id, .protocolError, error.reason) }
                let informational = (head.status ?? 200) < 200
                if informational && endStream { throw .stream(id, .protocolError, "informational response ends stream \(id)") }
                if !informational {
                    floodGuard.openedStreams += 1
                    stream.receivedHead = true
                    let bodyless = stream.requestWasHEAD || head.status == 204 || head.status == 304
                    stream.expectedContentLength = bodyless ? nil : head.contentLength
                    if endStream, let expected = stream.expectedContentLength, expected != 0 {
                        throw .stream(id, .protocolError, "stream \(id) ends without the \(expected) bytes its content-length announces")
                    }
                }
                streams[id] = stream
                events.append(.headers(streamID: id, fields: fields, endStream: endStream))
            } else {
                guard endStream else { throw .stream(id, .protocolError, "trailers on stream \(id) without END_STREAM") }
                do { try HeaderValidation.validateTrailers(fields) } catch { throw .stream(id, .protocolError, error.reason) }
                if let expected = stream.expectedContentLength, expected != stream.receivedDataBytes {
                    throw .stream(id, .protocolError, "DATA of \(stream.receivedDataBytes) bytes on stream \(id) does not match content-length \(expected)")
                }
                if role == .server { counters.trailersReceived += 1 }
                events.append(.trailers(streamID: id, fields: fields))
            }
            if endStream { remoteEnded(id) }
            return
        }
        // A stream this side does not keep: a new one from the peer, or one already closed.
        let peerInitiated = (id % 2 == 1) == (role == .server)
        guard peerInitiated, role == .server else {
            if !isIdle(id) && recentlyReset.contains(id) { return }
            throw .connection(.protocolError, "HEADERS on stream \(id), which this side did not open")
        }
        guard id > lastPeerStreamID else {
            if recentlyReset.contains(id) { return }
            throw .connection(.streamClosed, "HEADERS on closed stream \(id)")
        }
        lastPeerStreamID = id
        if let last = goAwaySent, id > last { return }
        if tooLarge { throw .stream(id, .protocolError, "header list larger than \(localSettings.maxHeaderListSize) bytes") }
        guard streams.count < localSettings.maxConcurrentStreams else {
            throw .stream(id, .refusedStream, "more than \(localSettings.maxConcurrentStreams) concurrent streams")
        }
        let head: HeaderValidation.Head
        do { head = try HeaderValidation.validateRequest(fields) } catch { throw .stream(id, .protocolError, error.reason) }
        if endStream, let expected = head.contentLength, expected != 0 {
            throw .stream(id, .protocolError, "stream \(id) ends without the \(expected) bytes its content-length announces")
        }
        var stream = StreamRecord(state: endStream ? .halfClosedRemote : .open, locallyInitiated: false,
                                  sendWindow: peerSettings.initialWindowSize, receiveWindow: localSettings.initialWindowSize)
        stream.receivedHead = true
        stream.expectedContentLength = head.contentLength
        streams[id] = stream
        peerStreamsOpened += 1
        floodGuard.openedStreams += 1
        events.append(.headers(streamID: id, fields: fields, endStream: endStream))
    }

    /// Streams the peer opened, and how many of them it reset before they ended.
    private var peerStreamsOpened = 0
    private var peerStreamsReset = 0

    /// A peer that opens streams only to reset them makes this side start work for nothing (the "rapid reset"
    /// attack): past 100 resets, more than half of its streams reset ends the connection.
    private func countPeerReset() throws(HTTP2Error) {
        peerStreamsReset += 1
        if peerStreamsReset > 100 && peerStreamsReset * 2 > peerStreamsOpened {
            throw .connection(.enhanceYourCalm, "the client reset \(peerStreamsReset) of its \(peerStreamsOpened) streams")
        }
    }

    private func apply(_ settings: [HTTP2Setting]) throws(HTTP2Error) {
        for setting in settings {
            let value = Int(setting.value)
            switch setting.identifier {
            case .headerTableSize:
                peerSettings.headerTableSize = value
                hpackEncoder.setPeerTableSizeLimit(value)
            case .enablePush:
                if role == .client && value == 1 { throw .connection(.protocolError, "a server sent SETTINGS_ENABLE_PUSH 1") }
                peerSettings.enablePush = value == 1
            case .maxConcurrentStreams:
                peerSettings.maxConcurrentStreams = value
            case .initialWindowSize:
                let delta = value - peerSettings.initialWindowSize
                for (id, stream) in streams where stream.sendWindow + delta > maximumWindowSize {
                    throw .connection(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE \(value) overflows stream \(id)'s window")
                }
                for id in Array(streams.keys) { streams[id]!.sendWindow += delta }
                peerSettings.initialWindowSize = value
            case .maxFrameSize:
                peerSettings.maxFrameSize = value
            case .maxHeaderListSize:
                peerSettings.maxHeaderListSize = value
            default:
                break
            }
        }
    }

    private func receiveWindowUpdate(_ id: UInt32, _ increment: Int) throws(HTTP2Error) {
        if id == 0 {
            guard connectionSendWindow + increment <= maximumWindowSize else {
                throw .connection(.flowControlError, "WINDOW_UPDATE takes the connection window past 2^31-1")
            }
            connectionSendWindow += increment
        } else if streams[id] != nil {
            guard streams[id]!.sendWindow + increment <= maximumWindowSize else {
                throw .stream(id, .flowControlError, "WINDOW_UPDATE takes stream \(id)'s window past 2^31-1")
            }
            streams[id]!.sendWindow += increment
        } else if isIdle(id) {
            throw .connection(.protocolError, "WINDOW_UPDATE on idle stream \(id)")
        }
        flushBlockedStreams()
    }

    private func receiveGoAway(_ last: UInt32, _ code: HTTP2ErrorCode, _ debug: ByteBuffer) {
        goAwayReceived = min(goAwayReceived ?? last, last)
        for (id, stream) in streams where stream.locallyInitiated && id > last {
            pendingSendBytes -= stream.pendingBytes
            streams[id] = nil
            events.append(.streamReset(streamID: id, code: .refusedStream, byPeer: true))
        }
        events.append(.goAway(lastStreamID: last, code: code, debugData: String(decoding: debug.readableArray, as: UTF8.self)))
    }

    /// The peer sent END_STREAM on `id`.
    private func remoteEnded(_ id: UInt32) {
        guard let stream = streams[id] else { return }
        if stream.state == .halfClosedLocal { close(id) } else { streams[id]!.state = .halfClosedRemote }
    }

    /// This side's END_STREAM went out on `id`.
    private func localEnded(_ id: UInt32) {
        guard let stream = streams[id] else { return }
        if stream.state == .halfClosedRemote { close(id) } else { streams[id]!.state = .halfClosedLocal }
    }

    private func close(_ id: UInt32) {
        streams[id] = nil
        events.append(.streamClosed(streamID: id))
    }

    // MARK: Errors

    /// A stream error: RST_STREAM to the peer, the stream forgotten, the event reported.
    private func reset(_ id: UInt32, _ code: HTTP2ErrorCode, reason: String, report: Bool = true) {
        counters.resetsSent += 1
        write(HTTP2Frame(streamID: id, payload: .rstStream(code)))
        let removed = streams.removeValue(forKey: id)
        pendingSendBytes -= removed?.pendingBytes ?? 0
        let existed = removed != nil
        blockedStreams.removeAll { $0 == id }
        rememberReset(id)
        if existed && report { events.append(.streamReset(streamID: id, code: code, byPeer: false)) }
    }

    private func rememberReset(_ id: UInt32) {
        guard recentlyReset.insert(id).inserted else { return }
        recentlyResetOrder.append(id)
        if recentlyResetOrder.count > 1024 { recentlyReset.remove(recentlyResetOrder.removeFirst()) }
    }

    /// A connection error: GOAWAY with the reason, every stream ended, nothing more read.
    private func fail(_ error: HTTP2Error) {
        guard failed == nil else { return }
        failed = error
        write(HTTP2Frame(streamID: 0, payload: .goAway(lastStreamID: lastPeerStreamID, code: error.code, debugData: ByteBuffer(string: error.reason))))
        for id in streams.keys.sorted() { events.append(.streamReset(streamID: id, code: error.code, byPeer: false)) }
        streams.removeAll()
        pendingSendBytes = 0
        blockedStreams.removeAll()
        events.append(.connectionError(error))
    }

    /// Takes an HTTP/1.1 request that upgraded to h2c as stream 1, half-closed by the client (server only, before
    /// any bytes are read); `peerSettings` come from its HTTP2-Settings header. The client preface follows.
    public func acceptUpgrade(request fields: [HeaderField], peerSettings: [HTTP2Setting]) throws(HTTP2Error) {
        guard role == .server, lastPeerStreamID == 0 else { throw .connection(.internalError, "an upgrade must be the connection's first request") }
        do { _ = try HeaderValidation.validateRequest(fields) } catch { throw .stream(1, .protocolError, error.reason) }
        try apply(peerSettings)
        lastPeerStreamID = 1
        var stream = StreamRecord(state: .halfClosedRemote, locallyInitiated: false, sendWindow: self.peerSettings.initialWindowSize,
                                  receiveWindow: localSettings.initialWindowSize)
        stream.receivedHead = true
        streams[1] = stream
    }

    // MARK: Sending

    /// Opens a stream with a request head (client). Throws REFUSED_STREAM when the peer's limit or a GOAWAY
    /// forbids a new stream now.
    public func openStream(headers: [HeaderField], endStream: Bool) throws(HTTP2Error) -> UInt32 {
        guard role == .client else { throw .connection(.internalError, "only a client opens streams") }
        guard canOpenStream else { throw .stream(nextLocalStreamID, .refusedStream, "no new stream allowed now (limit or GOAWAY)") }
        let id = nextLocalStreamID
        nextLocalStreamID += 2
        var stream = StreamRecord(state: .open, locallyInitiated: true, sendWindow: peerSettings.initialWindowSize,
                                  receiveWindow: localSettings.initialWindowSize)
        stream.requestWasHEAD = headers.contains { $0.name == ":method" && $0.value == "HEAD" }
        streams[id] = stream
        writeHeaders(id, headers, endStream: endStream)
        if endStream { localEnded(id) }
        return id
    }

    /// Sends a response head (server) on an open stream.
    public func sendHeaders(streamID id: UInt32, headers: [HeaderField], endStream: Bool) throws(HTTP2Error) {
        guard let stream = streams[id], !stream.state.localEnded, !stream.endQueued else {
            throw .stream(id, .streamClosed, "stream \(id) is closed for sending")
        }
        writeHeaders(id, headers, endStream: endStream)
        if endStream { localEnded(id) }
    }

    /// Queues body bytes; they go out as the peer's windows allow. `endStream` ends the stream after them.
    public func sendData(streamID id: UInt32, _ data: ByteBuffer, endStream: Bool) throws(HTTP2Error) {
        guard var stream = streams[id], !stream.state.localEnded, !stream.endQueued else {
            throw .stream(id, .streamClosed, "stream \(id) is closed for sending")
        }
        if data.readableBytes > 0 {
            stream.pending.append(data)
            stream.pendingBytes += data.readableBytes
            pendingSendBytes += data.readableBytes
        }
        stream.endQueued = endStream
        streams[id] = stream
        flush(id)
    }

    /// Ends the stream with trailers, after any queued data.
    public func sendTrailers(streamID id: UInt32, _ trailers: [HeaderField]) throws(HTTP2Error) {
        guard var stream = streams[id], !stream.state.localEnded, !stream.endQueued else {
            throw .stream(id, .streamClosed, "stream \(id) is closed for sending")
        }
        stream.trailersQueued = trailers
        stream.endQueued = true
        streams[id] = stream
        flush(id)
    }

    /// Resets a stream (RST_STREAM); queued data is dropped.
    public func resetStream(_ id: UInt32, code: HTTP2ErrorCode = .cancel) {
        guard streams[id] != nil else { return }
        reset(id, code, reason: "reset by this side", report: false)
    }

    public func ping(opaque: UInt64) {
        write(HTTP2Frame(streamID: 0, payload: .ping(opaque: opaque, ack: false)))
    }

    /// Sends GOAWAY: streams the peer opened up to now finish; newer ones are ignored. With NO_ERROR this is a
    /// graceful shutdown (`isFinished` once the streams are done).
    public func goAway(code: HTTP2ErrorCode = .noError, debugData: String = "") {
        guard failed == nil else { return }
        goAwaySent = lastPeerStreamID
        write(HTTP2Frame(streamID: 0, payload: .goAway(lastStreamID: lastPeerStreamID, code: code, debugData: ByteBuffer(string: debugData))))
    }

    /// Events that sending caused (streams closing as their END_STREAM goes out).
    public func takeEvents() -> [HTTP2Event] { flushEvents() }

    private func writeHeaders(_ id: UInt32, _ headers: [HeaderField], endStream: Bool) {
        let block = hpackEncoder.encode(headers)
        let limit = peerSettings.maxFrameSize
        var offset = 0
        var first = true
        repeat {
            let end = min(offset + limit, block.count)
            let fragment = ByteBuffer(bytes: block[offset..<end])
            let last = end == block.count
            if first {
                write(HTTP2Frame(streamID: id, payload: .headers(HTTP2Frame.HeadersPayload(fragment: fragment, endStream: endStream, endHeaders: last))))
            } else {
                write(HTTP2Frame(streamID: id, payload: .continuation(fragment: fragment, endHeaders: last)))
            }
            first = false
            offset = end
        } while offset < block.count
    }

    /// Sends what the windows allow of a stream's queued data, then its end; notes it as blocked if data remains.
    private func flush(_ id: UInt32) {
        guard var stream = streams[id] else { return }
        while stream.pendingBytes > 0 {
            let allowed = min(stream.sendWindow, connectionSendWindow, peerSettings.maxFrameSize)
            guard allowed > 0 else { break }
            var front = stream.pending[0]
            let chunk = front.readSlice(length: min(allowed, front.readableBytes))!
            if front.readableBytes == 0 { stream.pending.removeFirst() } else { stream.pending[0] = front }
            stream.pendingBytes -= chunk.readableBytes
            pendingSendBytes -= chunk.readableBytes
            stream.sendWindow -= chunk.readableBytes
            connectionSendWindow -= chunk.readableBytes
            let ends = stream.pendingBytes == 0 && stream.endQueued && stream.trailersQueued == nil
            write(HTTP2Frame(streamID: id, payload: .data(chunk, endStream: ends)))
            floodGuard.dataFramesSent += 1
            if ends {
                streams[id] = stream
                localEnded(id)
                return
            }
        }
        if stream.pendingBytes > 0 {
            streams[id] = stream
            if !blockedStreams.contains(id) { blockedStreams.append(id) }
            return
        }
        if stream.endQueued {
            if let trailers = stream.trailersQueued {
                writeHeaders(id, trailers, endStream: true)
            } else {
                write(HTTP2Frame(streamID: id, payload: .data(ByteBuffer(), endStream: true)))
                floodGuard.dataFramesSent += 1
            }
            streams[id] = stream
            localEnded(id)
            return
        }
        streams[id] = stream
    }

    /// Gives streams waiting for window their turn, oldest first.
    private func flushBlockedStreams() {
        guard !blockedStreams.isEmpty else { return }
        let waiting = blockedStreams
        blockedStreams.removeAll()
        for id in waiting where connectionSendWindow > 0 || streams[id]?.pendingBytes == 0 { flush(id) }
        for id in waiting where connectionSendWindow <= 0 && (streams[id]?.pendingBytes ?? 0) > 0 && !blockedStreams.contains(id) {
            blockedStreams.append(id)
        }
    }
}
