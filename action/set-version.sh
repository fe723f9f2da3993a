#!/usr/bin/env bash
# Writes a release's version into action.yml as the default of the `version` input, so that
# `uses: OWNER/kvsync@v1.4.0` installs kvsync 1.4.0 (composite actions cannot read their own ref:
# actions/runner#2473). Part of preparing a release, with the version in Cargo.toml:
#
#   action/set-version.sh 1.4.0     # then commit, tag v1.4.0 and push the tag
#
# release.yml refuses a tag whose version differs from Cargo.toml's or action.yml's.
#   set-version.sh --check VERSION  exits 1 unless action.yml's default is VERSION.
set -euo pipefail

action="${KVSYNC_ACTION_YML:-$(cd "$(dirname "$0")/.." && pwd)/action.yml}"
check=false
if [[ "${1:-}" == --check ]]; then
  check=true
  shift
fi
version="${1:?usage: set-version.sh [--check] VERSION}"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
  { echo "set-version.sh: \`$version\` is not a version such as 1.4.0" >&2; exit 1; }

# The default sits on the line after this comment, inside the `version` input.
anchor='# Written by action/set-version.sh'
current="$(awk -v anchor="$anchor" '
  found { if (match($0, /default: *"[^"]*"/)) { v = substr($0, RSTART, RLENGTH); sub(/default: *"/, "", v); sub(/"$/, "", v); print v }; exit }
  index($0, anchor) { found = 1 }' "$action")"
[[ -n "$current" ]] || { echo "set-version.sh: no \`default: \"…\"\` after \"$anchor\" in $action" >&2; exit 1; }

if $check; then
  if [[ "$current" != "$version" ]]; then
    echo "action.yml installs kvsync $current by default, not $version: run action/set-version.sh $version" >&2
    exit 1
  fi
  echo "action.yml installs kvsync $version by default"
  exit 0
fi

awk -v anchor="$anchor" -v version="$version" '
  found && !done { sub(/default: *"[^"]*"/, "default: \"" version "\""); done = 1 }
  index($0, anchor) { found = 1 }
  { print }' "$action" >"$action.tmp"
mv "$action.tmp" "$action"
echo "action.yml: the default version is now $version (was $current)"
