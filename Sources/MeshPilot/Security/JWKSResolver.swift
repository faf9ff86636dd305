import ConfigValues
import Foundation

/// Fetches the keys of RequestAuthentication rules that name a `jwksUri` (or only an issuer, found through OpenID
/// discovery: `ISSUER/.well-known/openid-configuration`'s `jwks_uri`), as istiod does by default, so the sidecars get
/// them inline and need no network access of their own. Generation never waits: a key set not fetched yet is
/// replaced by `unsignableKeys` (every token fails, as with istiod when a fetch fails), the fetch runs in the
/// background, and `onChange` asks for a new push when keys arrive or change. Keys are fetched again every
/// `refreshInterval` (a failed fetch after `retryInterval`) while a rule used them within the last day; a body that
/// is not a JWKS (a JSON object with a `keys` list) is refused.
public final class JWKSResolver: @unchecked Sendable {
    /// GETs a URL within a timeout (seconds): the body of a 2xx answer, or why not.
    public typealias Fetch = @Sendable (_ url: String, _ timeout: Double) -> Result<[UInt8], FetchFailure>

    public struct FetchFailure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// A JWKS whose RSA key's private half was thrown away when it was made: no token verifies against it.
    public static let unsignableKeys = """
        {"keys":[{"kty":"RSA","e":"AQAB","n":"h4tdfs8Nt_CifYZg9xX0KA6lxmBFtTkwmquI--8wSw5FrxPxzIDu1mlZwoWfIazXM_7FRL8WV9vlXLZNWn1_VPZKP_6cm1TJIE4ot1ri7hs-QfYcKUgcDv_yUi41hlBTFPNUIUJ-AkUlsiQLUQqNKMxqnE1pZaZztZeUYSnyEZUOC7Qejj4wTBOQ6hRKDJP_bXSYuKq00OPgehOAgvLIiHlB9DxnZX3yphDehGL9FcX_k5RRIV5dridCQq2vFXVjq8ksQhiB4CCCsoqkAnWWEr_tOHRwn6NSglRCZjvO-Hs7ngSoFkm7rik-MIMl4R_YeN-786YDeoRg08MWc53LWQ"}]}
        """

    private struct Entry {
        var keys: String?
        var fetchedAt: Date?
        var fetching = false
        var lastError: String?
        var lastUsed = Date.distantPast
    }

    private let fetch: Fetch
    private let refreshInterval: TimeInterval
    private let retryInterval: TimeInterval
    /// Key sets no rule asked for within this long are no longer refreshed.
    static let unusedAfter: TimeInterval = 24 * 3600
    private let now: @Sendable () -> Date
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// Called (on a background thread) when a key set arrived or changed.
    public var onChange: @Sendable () -> Void = {}

    /// The intervals are istiod's defaults: 20 minutes, and a minute after a failure.
    public init(refreshInterval: TimeInterval = 20 * 60, retryInterval: TimeInterval = 60, now: @escaping @Sendable () -> Date = Date.init,
                fetch: @escaping Fetch) {
        self.fetch = fetch
        self.refreshInterval = refreshInterval
        self.retryInterval = retryInterval
        self.now = now
    }

    /// The key set for a rule, nil while it is not fetched yet (or the last fetch failed); starts a fetch when due.
    public func keys(uri: String, issuer: String, timeout: Double) -> String? {
        let key = uri.isEmpty ? "issuer:" + issuer : uri
        guard !uri.isEmpty || !issuer.isEmpty else { return nil }
        lock.lock()
        var entry = entries[key] ?? Entry()
        entry.lastUsed = now()
        let start = entry.fetchedAt == nil && !entry.fetching
        if start { entry.fetching = true }
        entries[key] = entry
        lock.unlock()
        if start {
            DispatchQueue.global().async { [self] in refresh(key: key, uri: uri, issuer: issuer, timeout: timeout) }
        }
        return entry.keys
    }

    /// Why the last fetch of each failing key set failed, for the pilot's notes (`URI: reason`).
    public var failures: [String] {
        lock.lock(); defer { lock.unlock() }
        return entries.compactMap { key, entry in entry.lastError.map { "\(key): \($0)" } }.sorted()
    }

    private func refresh(key: String, uri: String, issuer: String, timeout: Double) {
        let result = Self.resolve(uri: uri, issuer: issuer, timeout: timeout, fetch: fetch)
        lock.lock()
        var entry = entries[key] ?? Entry()
        entry.fetching = false
        entry.fetchedAt = now()
        var changed = false
        switch result {
        case .success(let keys):
            changed = entry.keys != keys
            entry.keys = keys
            entry.lastError = nil
        case .failure(let failure):
            // A refresh that fails keeps the keys fetched before; the next use tries again after the interval.
            entry.lastError = failure.description
        }
        entries[key] = entry
        lock.unlock()
        if changed { onChange() }
        // The next fetch, while a rule still uses the keys (they rotate; a server that failed may come back).
        let wait = entry.lastError == nil ? refreshInterval : retryInterval
        DispatchQueue.global().asyncAfter(deadline: .now() + wait) { [weak self] in
            guard let self else { return }
            self.lock.lock()
            var entry = self.entries[key] ?? Entry()
            let used = self.now().timeIntervalSince(entry.lastUsed) < Self.unusedAfter
            let start = used && !entry.fetching
            if start { entry.fetching = true; self.entries[key] = entry } else if !used { self.entries[key] = nil }
            self.lock.unlock()
            if start { self.refresh(key: key, uri: uri, issuer: issuer, timeout: timeout) }
        }
    }

    static func resolve(uri: String, issuer: String, timeout: Double, fetch: Fetch) -> Result<String, FetchFailure> {
        var location = uri
        if location.isEmpty {
            let discovery = (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
            switch fetch(discovery, timeout) {
            case .failure(let failure): return .failure(FetchFailure("\(discovery): \(failure)"))
            case .success(let body):
                guard let document = try? JSONValue.parse(String(decoding: body, as: UTF8.self)), let found = document["jwks_uri"]?.string else {
                    return .failure(FetchFailure("\(discovery) has no jwks_uri"))
                }
                location = found
            }
        }
        switch fetch(location, timeout) {
        case .failure(let failure): return .failure(FetchFailure("\(location): \(failure)"))
        case .success(let body):
            let text = String(decoding: body, as: UTF8.self)
            guard let document = try? JSONValue.parse(text), document["keys"]?.array != nil else {
                return .failure(FetchFailure("\(location) did not answer a JWKS (a JSON object with a keys list)"))
            }
            return .success(text)
        }
    }

    /// A protobuf duration (`"5s"`, `"1.5s"`) in seconds.
    static func seconds(_ text: String) -> Double? {
        guard text.hasSuffix("s"), let value = Double(text.dropLast()), value.isFinite, value > 0 else { return nil }
        return min(value, 60)
    }
}
