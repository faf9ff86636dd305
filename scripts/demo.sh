#!/usr/bin/env bash
# `make demo`: a service mesh on this machine. `meshctl local demo` starts local mode, deploys the shop
# (examples/mesh-demo.yaml), measures traffic under a canary, a fault and STRICT mTLS, and stops local mode again.
# State and kubeconfig go to a temporary directory, so your own ~/.kube/config and ~/.meshctl are left alone.
# Extra arguments go to `meshctl local demo` (make demo DEMO_ARGS="--requests 500").
# scripts/tour.sh is the longer tour of the other commands (validate, analyze, kube-inject, the 503 doctor).
set -uo pipefail
meshctl=${1:?usage: demo.sh PATH-TO-MESHCTL [local demo flags]}
shift
demo_home=$(mktemp -d)
keep=false
for arg in "$@"; do [ "$arg" = --keep ] && keep=true; done
KUBECONFIG="$demo_home/kubeconfig" "$meshctl" local demo --state-dir "$demo_home/state" "$@"
status=$?
if $keep; then
  echo "local mode's kubeconfig is $demo_home/kubeconfig: export KUBECONFIG=$demo_home/kubeconfig for kubectl and meshctl"
else
  rm -rf "$demo_home"
fi
exit $status
