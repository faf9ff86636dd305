import CCurl

/// libcurl, the only HTTP client meshctl uses. This is the only file that sees libcurl; the transport
/// for the Kubernetes API grows here.
public enum CurlLibrary {
    /// The linked libcurl's version, e.g. `7.88.1`.
    public static var version: String {
        guard let info = curl_version_info(CURLVERSION_TENTH), let text = info.pointee.version else { return "unknown" }
        return String(cString: text)
    }
}
