/// networking.istio.io/v1beta1 ProxyConfig: proxy settings for the workloads its selector picks.
enum ProxyConfigSchemas {
    typealias C = CommonSchemas

    static let proxyConfig = SchemaType.object(ObjectType("ProxyConfig", [
        "selector": .object(C.policySelector),
        "concurrency": .integer(minimum: 0, maximum: Int(Int32.max)),
        "environmentVariables": .map(.string(maxLength: 2048)),
        "image": .object(ObjectType("ProxyImage", ["imageType": .string])),
    ]))
}
