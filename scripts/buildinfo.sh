#!/usr/bin/env bash
# Writes the git commit into .build/buildinfo/meshctl_buildinfo.h for `meshctl version`.
# The file is rewritten only when the commit changes, so an unchanged tree does not rebuild.
# A plain `swift build` without it reports the commit as "unknown".
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
mkdir -p .build/buildinfo
header=.build/buildinfo/meshctl_buildinfo.h
content="#define MESHCTL_GIT_COMMIT \"$commit\""
if [ ! -f "$header" ] || [ "$(cat "$header")" != "$content" ]; then
  printf '%s\n' "$content" > "$header.tmp"
  mv "$header.tmp" "$header"
  # The shim finds the header with __has_include, which the build does not track: touch the source
  # (its time, not its content) so it is compiled again with the new commit.
  touch Sources/CBuildInfo/CBuildInfo.c
fi
