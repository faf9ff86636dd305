import ConfigValues

/// The objects the pilot computes proxy configuration from, as the local store keeps them: by storage key (the
/// plural, group-qualified for non-core groups: `services`, `endpointslices.discovery.k8s.io`,
/// `virtualservices.networking.istio.io`, ...), plus the mesh configuration.
public struct MeshSnapshot: Sendable {
    public var objects: [String: [JSONValue]]
    /// `MeshConfig` as in the `istio` ConfigMap's `mesh` key, read into a value.
    public var meshConfig: JSONValue
    /// The store revision the snapshot was taken at (pushes are versioned by it).
    public var revision: Int64

    public init(objects: [String: [JSONValue]], meshConfig: JSONValue = .object([]), revision: Int64 = 0) {
        self.objects = objects
        self.meshConfig = meshConfig
        self.revision = revision
    }

    /// The objects stored under `key`, none when there are none.
    public func items(_ key: String) -> [JSONValue] { objects[key] ?? [] }
}
