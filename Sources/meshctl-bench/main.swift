import Manifests
import Foundation
let dir = "/work/shared/conformance/istio/kube-inject/inject"
var same = 0, total = 0
for f in try! FileManager.default.contentsOfDirectory(atPath: dir).sorted() where f.hasSuffix(".injected") {
    let text = try! String(contentsOfFile: dir + "/" + f, encoding: .utf8)
    total += 1
    guard let docs = try? YAMLParser.parse(text) else { print("parse fail \(f)"); continue }
    let out = YAMLEmitter(keyOrder: .sorted).emit(documents: docs.map(\.root).filter { !$0.isNull }) + (text.hasSuffix("---\n") ? "---\n" : "")
    if out.trimmingCharacters(in: .whitespacesAndNewlines) == text.trimmingCharacters(in: .whitespacesAndNewlines) { same += 1 } else {
        try! out.write(toFile: "/tmp/scratch/g-\(f)", atomically: true, encoding: .utf8)
        print("DIFF \(f)")
    }
}
print("\(same)/\(total)")
