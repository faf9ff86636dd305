import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The socket calls MeshNet's connections make: errno becomes a typed outcome here, and EINTR is retried here.
/// This file is the one that imports CLinux.
package enum Socket {
    /// What one attempt to take a connection from a listener came to.
    enum Accepted {
        case connection(Int32)
        /// No connection is waiting.
        case none
        /// The process or the system has no descriptor or memory to spare: stop trying for a while.
        case outOfResources(Int32)
        /// The connection went away before it was taken (try the next one).
        case aborted
        case failed(Int32)
    }

    /// A new TCP socket of `family` (AF_INET, AF_INET6), close-on-exec and non-blocking unless asked otherwise
    /// (clients in tests and benchmarks); -1 with errno set on failure.
    static func openStream(family: Int32, blocking: Bool = false) -> Int32 {
        socket(family, Int32(SOCK_STREAM.rawValue) | (blocking ? 0 : Int32(SOCK_NONBLOCK.rawValue)) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    /// Takes one waiting connection, non-blocking and close-on-exec from birth (`accept4`), with Nagle off.
    static func accept(_ listener: Int32) -> Accepted {
        while true {
            let fd = accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            if fd >= 0 {
                setNoDelay(fd)
                return .connection(fd)
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .none
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .outOfResources(errno)
            case ECONNABORTED, EPROTO, EPERM: return .aborted
            default: return .failed(errno)
            }
        }
    }

    /// A socket bound to an address with port 0 gets its port at connect (Linux's IP_BIND_ADDRESS_NO_PORT).
    static func deferPortChoice(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), 24, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setNoDelay(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// What a read or write came to.
    package enum Transfer: Equatable {
        case done(Int)
        /// The peer closed (a read of 0).
        case end
        /// Nothing can move now; wait for readiness.
        case wouldBlock
        case failed(Int32)
    }

    /// Reads what the socket `fd` holds, up to the buffer's size. `recv` rather than `read`: the socket call skips
    /// the file layer's checks and notifications, which is measurably less kernel time per call on loopback.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Transfer {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .done(count) }
            if count == 0 { return .end }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
        }
    }

    /// Most buffers one `writev` takes (the kernel allows 1024; a few dozen already fill a socket buffer).
    static let gatherLimit = 64

    /// Writes as much of `pending`'s front buffers as the socket takes, in one call: `send` for one buffer (the
    /// usual small answer; no file layer and no vector to copy in), `writev` for several.
    static func write(_ fd: Int32, _ pending: PendingWrites) -> Transfer {
        if pending.count == 1 {
            var start: UnsafeRawPointer?
            var length = 0
            pending.forEachFront(limit: 1) { start = $0; length = $1 }
            while true {
                let written = send(fd, start, length, Int32(MSG_NOSIGNAL))
                if written >= 0 { return .done(written) }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
            }
        }
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: gatherLimit) { vectors in
            var count = 0
            pending.forEachFront(limit: gatherLimit) { pointer, length in
                vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: pointer), iov_len: length)
                count += 1
            }
            while true {
                let written = writev(fd, vectors.baseAddress, Int32(count))
                if written >= 0 { return .done(written) }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
            }
        }
    }
}

/// The process heap.
package enum Heap {
    /// Hands memory glibc's malloc keeps after frees back to the system (it holds freed small blocks otherwise, so
    /// RSS stays at its peak after a burst of clients).
    package static func giveBackFreedMemory() {
        _ = malloc_trim(0)
    }
}

/// Socket addresses as text.
public enum SocketAddress {
    /// `IP:PORT` (`[IP]:PORT` for IPv6) of a socket's peer (`peer`) or of the socket itself; nil when it has none.
    public static func text(_ fd: Int32, peer: Bool) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                var ip = address.pointee.sin_addr
                guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                return "\(String(cString: text)):\(UInt16(bigEndian: address.pointee.sin_port))"
            } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                var ip = address.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                return "[\(String(cString: text))]:\(UInt16(bigEndian: address.pointee.sin6_port))"
            } }
        default:
            return nil
        }
    }
}
