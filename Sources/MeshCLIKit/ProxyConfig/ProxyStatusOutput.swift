import EnvoyConfig
import Manifests

/// `proxy-status -o json|yaml`: an istiod's CSDS answer as istioctl prints it, protobuf JSON indented by four
/// spaces (jsonpb's layout), or that JSON turned into YAML with sorted keys; each followed by an empty line's newline.
public enum ProxyStatusOutput {
    public static func render(_ response: JSONValue, yaml: Bool) -> String {
        let converted = EnvoyFieldName.protoJSON(response)
        if yaml { return YAMLEmitter().emit(ProxyConfigOutput.goYAML(converted)) + "\n" }
        return ProtoJSONWriter().write(converted) + "\n"
    }
}
