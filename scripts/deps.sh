#!/usr/bin/env bash
# Makes sure the system C libraries meshctl links against are present; with --test, also the shells
# whose completion scripts the tests run (zsh, fish) and the HTTP/2 peers MeshHTTP2's interop tests drive
# (curl, h2load).
# As root it installs what is missing with apt-get; otherwise it prints the line to run and fails.
set -euo pipefail

# pkg-config name -> Debian package
declare -A packages=(
  [libcurl]=libcurl4-openssl-dev
  [yaml-0.1]=libyaml-dev
  [openssl]=libssl-dev
  [sqlite3]=libsqlite3-dev
)

missing=()
if ! command -v pkg-config >/dev/null 2>&1; then
  missing+=(pkg-config)
fi
for module in "${!packages[@]}"; do
  if ! pkg-config --exists "$module" 2>/dev/null; then
    missing+=("${packages[$module]}")
  fi
done

if [ "${1:-}" = "--test" ]; then
  for shell in zsh fish; do
    command -v "$shell" >/dev/null 2>&1 || missing+=("$shell")
  done
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  exit 0
fi

echo "deps: missing system packages: ${missing[*]}" >&2
echo "deps: install them with:  sudo apt-get install -y ${missing[*]}" >&2
exit 1
