import MeshProxy

/// The command lines `meshctl-proxy` serves by itself: `proxy -c FILE` with `--concurrency`, `--log-level` and
/// `--mode serve`, each as `--flag value` or `--flag=value`. Anything else (help, validate mode, an unknown or bad
/// flag) is left to meshctl, which says what is wrong in its own words.
struct LeanProxyArguments: Equatable {
    var configPath: String
    var concurrency = 1
    var logLevel = ProxyLog.Level.info

    /// nil when the line is not one of those (the caller hands it to meshctl).
    init?(_ arguments: [String]) {
        guard arguments.first == "proxy" else { return nil }
        var path: String?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            let name: String
            let value: String
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
                index += 1
            } else {
                guard index + 1 < arguments.count else { return nil }
                name = argument
                value = arguments[index + 1]
                index += 2
            }
            switch name {
            case "-c", "--config-path":
                guard !value.isEmpty else { return nil }
                path = value
            case "--concurrency":
                guard let count = Int(value), (1...256).contains(count) else { return nil }
                concurrency = count
            case "--log-level":
                guard let level = ProxyLog.Level(name: value) else { return nil }
                logLevel = level
            case "--mode":
                guard value == "serve" else { return nil }
            default:
                return nil
            }
        }
        guard let path else { return nil }
        configPath = path
    }
}
