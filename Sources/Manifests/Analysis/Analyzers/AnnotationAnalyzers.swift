/// One annotation of a resource, with where it sits and the kind it is checked as (a Deployment's pod template
/// annotations are checked as a Pod's).
struct AnnotationUse {
    let name: String
    let value: String
    let key: YAMLNode
    let checkedAs: String

    /// The kinds whose annotations the annotation analyzers read, as Istio's do.
    static let kinds: Set<String> = ["Namespace", "Service", "Pod", "Deployment"]

    /// The annotations of `resource` a user wrote: those Istio writes itself are left out, and so are the
    /// capture annotations injection writes on pods whose capture the CNI plugin does.
    static func all(of resource: AnalyzedResource) -> [AnnotationUse] {
        guard kinds.contains(resource.kind), resource.group.isEmpty || resource.group == "apps" else { return [] }
        var uses = collect(resource.node["metadata"]?["annotations"], as: resource.kind, pod: resource.kind == "Pod" ? resource.node : nil)
        if resource.kind == "Deployment", let template = resource.spec?["template"] {
            uses += collect(template["metadata"]?["annotations"], as: "Pod", pod: template)
        }
        return uses
    }

    private static func collect(_ annotations: YAMLNode?, as kind: String, pod: YAMLNode?) -> [AnnotationUse] {
        let capturedByCNI = (pod?["spec"]?["initContainers"]?.items ?? []).contains { $0["name"]?.scalarText == PodInjection.validationName }
        return (annotations?.pairs ?? []).compactMap { pair in
            guard let name = pair.key.scalarText else { return nil }
            if AnnotationCatalogue.byName[name]?.setByIstio == true { return nil }
            if capturedByCNI && AnnotationCatalogue.writtenForCNI.contains(name) { return nil }
            return AnnotationUse(name: name, value: pair.value.scalarText ?? "", key: pair.key, checkedAs: kind)
        }
    }
}

/// Istio annotations that do not exist (IST0108), sit on a kind they do not apply to (IST0107), have a value
/// Istio rejects (IST0125), or are deprecated (IST0135).
struct KubernetesAnnotationAnalyzer: Analyzer {
    let name = "annotations.K8sAnalyzer"
    let summary = "Checks Istio annotations on Namespaces, Services, Pods and Deployments: unknown, misplaced, invalid or deprecated"

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for resource in input.resources {
            for use in AnnotationUse.all(of: resource) {
                guard let known = AnnotationCatalogue.byName[use.name] else {
                    if AnnotationCatalogue.isIstioDomain(use.name) {
                        messages.append(.unknownAnnotation(resource, annotation: use.name,
                                                           closest: closestMatch(to: use.name, in: AnnotationCatalogue.byName.keys.sorted()), at: use.key))
                    }
                    continue
                }
                if known.deprecated {
                    messages.append(.deprecatedAnnotation(resource, annotation: use.name, replacement: known.replacement, at: use.key))
                }
                if !known.applies(to: use.checkedAs) {
                    messages.append(.misplacedAnnotation(resource, annotation: use.name, allowedKinds: known.kinds,
                                                         onPodTemplate: use.checkedAs != resource.kind, at: use.key))
                    continue
                }
                if let problem = AnnotationValidation.problem(annotation: use.name, value: use.value) {
                    messages.append(.invalidAnnotation(resource, annotation: use.name, value: use.value, problem: problem, at: use.key))
                }
            }
        }
        return messages
    }
}

/// Istio annotations of alpha-phase features (IST0136). Istio leaves it out of a default run, and so does meshctl:
/// it runs when named with `--analyzer`.
struct AlphaAnnotationAnalyzer: Analyzer {
    let name = "annotations.AlphaAnalyzer"
    let summary = "Reports Istio annotations of alpha-phase features (runs only when named with --analyzer)"
    let runsByDefault = false

    func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for resource in input.resources {
            for use in AnnotationUse.all(of: resource) where AnnotationCatalogue.byName[use.name]?.status == .alpha {
                messages.append(.alphaAnnotation(resource, annotation: use.name, at: use.key))
            }
        }
        return messages
    }
}
