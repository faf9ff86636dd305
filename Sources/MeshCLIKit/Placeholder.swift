public enum MeshCLIKitPlaceholder {}
