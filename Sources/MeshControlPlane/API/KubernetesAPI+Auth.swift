import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// Who may call the API: the bearer token local mode hands out.
extension KubernetesAPI {
    func authorized(_ request: HTTPRequest) -> Bool {
        // The scheme is case-insensitive (RFC 7235): "bearer" and "BEARER" are as good as "Bearer".
        guard let header = request.header("Authorization"), header.prefix(7).lowercased() == "bearer " else { return false }
        let given = Array(header.dropFirst(7).utf8)
        // Constant time: every byte is compared whatever the first difference.
        var difference = given.count ^ token.count
        for index in 0..<max(given.count, token.count) {
            difference |= Int((index < given.count ? given[index] : 0) ^ (index < token.count ? token[index] : 0))
        }
        return difference == 0
    }
}
