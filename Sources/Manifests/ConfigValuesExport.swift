// Manifests' users read YAML and JSON through the same types Manifests does.
@_exported import ConfigValues
