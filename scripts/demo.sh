#!/usr/bin/env bash
# A scripted tour of what meshctl does so far. It grows with every feature.
set -uo pipefail
meshctl=${1:?usage: demo.sh PATH-TO-MESHCTL}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { step "meshctl $*"; "$meshctl" "$@"; printf '(exit %d)\n' $?; }

echo "meshctl demo: the shop example in $here/examples/shop"
run version
run version -o yaml
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
corpus="${MESHCTL_CONFORMANCE_DIR:-$here/../shared/conformance/istio}/kube-inject/chart/rendered"
if [ -d "$corpus" ]; then
  echo "kube-inject on examples/shop, with Istio's chart configuration (from ../shared):"
  step "meshctl kube-inject -f examples/shop/cart.yaml --injectConfigFile ... | grep -E '^kind:|image:'"
  "$meshctl" kube-inject -f "$here/examples/shop/cart.yaml" --injectConfigFile "$corpus/inject-config.yaml" \
    --valuesFile "$corpus/inject-values.json" --meshConfigFile "$corpus/mesh.yaml" \
    --set values.global.hub=docker.io/istio --set values.global.tag=1.32.0 | grep -E '^kind:|image:'
  echo "Without configuration it says what to pass:"
  run kube-inject -f "$here/examples/shop/frontend.yaml"
fi
exit 0
