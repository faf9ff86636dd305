#!/usr/bin/env bash
# A scripted tour of meshctl's other commands on the shop example (validate, analyze, kube-inject, local mode's
# API and workloads, the 503 doctor). `make demo` runs the mesh demo (scripts/demo.sh) instead.
set -uo pipefail
meshctl=${1:?usage: tour.sh PATH-TO-MESHCTL}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { step "meshctl $*"; "$meshctl" "$@"; printf '(exit %d)\n' $?; }

echo "meshctl tour: the shop example in $here/examples/shop"
run version --remote=false
run version -o yaml --remote=false
run --help
run kube-inject --help
echo
echo "Mistakes get a clear message and exit code 64:"
run kube-inject --namespce shop -f "$here/examples/shop/frontend.yaml"
run verison
echo
echo "Shell completion is generated from the command tree:"
step "meshctl completion bash | head -5"
"$meshctl" completion bash | head -5
echo
echo "validate checks the shop's Istio rules, and what they refer to:"
run validate -x -f "$here/examples/shop"
step "meshctl validate -f - <<< 'a VirtualService with a typo and a bad status'"
printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: chaos, namespace: shop}\nspec:\n  hosts: [cart]\n  http:\n  - fault: {abort: {httpStatus: 700, percentage: {value: 10}}}\n    route: [{destination: {host: cart}}]\n    rout: typo\n' \
  | "$meshctl" validate -f -
printf '(exit %d)\n' $?
echo
echo "analyze looks across resources, with Istio's IST codes:"
run analyze --use-kube=false "$here/examples/shop"
step "meshctl analyze --use-kube=false - <<< 'a canary to a subset no DestinationRule defines, through a gateway that does not exist'"
printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: cart-canary, namespace: shop}\nspec:\n  hosts: [cart]\n  gateways: [shop-gateway]\n  http:\n  - route: [{destination: {host: cart, subset: v3}}]\n' \
  | "$meshctl" analyze --use-kube=false -
printf '(exit %d)\n' $?
echo
echo "kube-inject on the shop example, with meshctl's built-in Istio defaults:"
step "meshctl kube-inject -f examples/shop/cart.yaml | grep -E '^kind:|image:'"
"$meshctl" kube-inject -f "$here/examples/shop/cart.yaml" | grep -E '^kind:|image:'
echo
echo "A typo in an annotation is caught before anything is written (exit 65):"
step "printf '...traffic.sidecar.istio.io/includeInboundPorts: \"80,http\"...' | meshctl kube-inject -f -"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    traffic.sidecar.istio.io/includeInboundPorts: "80,http"\nspec:\n  containers:\n  - name: web\n    image: nginx\n' \
  | "$meshctl" kube-inject -f - 2>&1 >/dev/null | tail -1
echo
echo "Local mode: a control plane on 127.0.0.1 that the real kubectl talks to (state and kubeconfig kept in a"
echo "temporary directory here, so your own ~/.kube/config is left alone):"
demo_home=$(mktemp -d)
export KUBECONFIG="$demo_home/kubeconfig"
state=(--state-dir "$demo_home/state")
run local up "${state[@]}"
if command -v kubectl >/dev/null; then
  kc() { step "kubectl $*"; kubectl --cache-dir "$demo_home/cache" "$@"; }
  kc get namespaces -L istio-injection
  kc apply -f "$here/examples/shop/namespace.yaml"
  kc apply -f "$here/examples/shop"
  kc get virtualservices,destinationrules -n shop
  echo "Istio rules are validated on the way in (422, nothing stored):"
  step "kubectl apply -f - <<< 'a VirtualService with a negative weight'"
  printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad, namespace: shop}\nspec:\n  hosts: [cart]\n  http: [{route: [{destination: {host: cart}, weight: -5}]}]\n' \
    | kubectl --cache-dir "$demo_home/cache" apply -f -
  echo "A pod created in a namespace labelled for injection gets the sidecar, as Istio's webhook does it:"
  step "kubectl apply -f - <<< 'a pod in namespace shop'; kubectl get pod web -n shop -o jsonpath=..."
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: web, image: nginx}]\n' \
    | kubectl --cache-dir "$demo_home/cache" apply -f -
  kubectl --cache-dir "$demo_home/cache" get pod web -n shop -o jsonpath='{range .spec.initContainers[*]}{.name}{" (init)\n"}{end}{range .spec.containers[*]}{.name}{"\n"}{end}'
  echo "Workloads run: pods of the built-in echo app (image meshctl/echo) are local processes on their own"
  echo "127.x addresses, and Services get cluster IPs that forward to the ready pods:"
  step "kubectl apply -f - <<< 'namespace demo, a Deployment of meshctl/echo with 2 replicas, a Service'"
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hello, namespace: demo}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: hello}}\n  template:\n    metadata: {labels: {app: hello, version: v1}}\n    spec:\n      containers: [{name: echo, image: meshctl/echo, ports: [{name: http, containerPort: 8080}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: hello, namespace: demo}\nspec:\n  selector: {app: hello}\n  ports: [{name: http, port: 80, targetPort: http}]\n' \
    | kubectl --cache-dir "$demo_home/cache" apply -f -
  kc rollout status deployment/hello -n demo --timeout=60s
  kc get pods -n demo -o wide
  run local curl "${state[@]}" http://hello.demo/
  run local curl "${state[@]}" --fail http://hello.demo/status/503
else
  echo "(no kubectl on this machine: the kubectl steps are skipped)"
fi
echo "The cluster commands work against it as against any cluster:"
run version
run check-inject
run check-inject -n shop deployment/cart-v1
run inject disable shop --dry-run
run analyze -n shop
run local status "${state[@]}"
run local down --purge "${state[@]}"
faults="$here/../shared/conformance/envoy-faults/target-port-mismatch"
if [ -d "$faults" ]; then
  echo
  echo "The 503 doctor, on a capture of a real Envoy 1.40 sidecar whose requests fail with"
  echo "'upstream connect error or disconnect/reset before headers':"
  run x diagnose --capture "$faults"
fi
rm -rf "$demo_home"
exit 0
