#!/usr/bin/env bash
# Resolves the action's `baseline` input to a config file for `kvsync plan --baseline`.
#
#   baseline.sh BASELINE CONFIG OUT
#
# BASELINE is a path to a config file (relative to the current folder), or a git ref of the
# target branch (`main`, `origin/main`, a tag or a commit; `${{ github.base_ref }}` on a pull
# request). For a ref, the folder holding CONFIG is copied out of that commit into a temporary
# folder (through a temporary git index, so the checkout, its index and its worktrees are left
# alone; `include:` and `file:` paths resolve there as they would on the branch), fetching the
# ref from `origin` first when the clone lacks it (actions/checkout fetches one commit).
#
# Writes the baseline config's path to the file OUT, or nothing when the target branch has no
# such config yet (a pull request that adds it): then every change is the pull request's.
# Messages for the runner (annotations) go to stdout, the rest to stderr.
set -euo pipefail

log() { printf 'kvsync baseline: %s\n' "$*" >&2; }
fail() {
  printf '::error title=kvsync baseline::%s\n' "$*"
  exit 1
}

usage="usage: baseline.sh BASELINE CONFIG OUT"
baseline="${1:?$usage}"
config="${2:?$usage}"
result="${3:?$usage}"
: >"$result"

if [[ -f "$baseline" ]]; then
  printf '%s' "$baseline" >"$result"
  exit 0
fi

git rev-parse --git-dir >/dev/null 2>&1 ||
  fail "\`baseline: $baseline\` is neither a file nor usable as a git ref: $(pwd) is not in a git checkout"

resolve() { git rev-parse --verify --quiet --end-of-options "$1^{commit}" 2>/dev/null; }

commit=""
for candidate in "$baseline" "origin/$baseline" "refs/remotes/origin/$baseline"; do
  if commit="$(resolve "$candidate")"; then
    break
  fi
  commit=""
done
if [[ -z "$commit" ]]; then
  log "fetching \`$baseline\` from origin"
  branch="${baseline#refs/heads/}"
  branch="${branch#origin/}"
  if git fetch --quiet --no-tags --depth=1 origin \
    "+refs/heads/$branch:refs/remotes/origin/$branch" >&2 2>/dev/null; then
    commit="$(resolve "refs/remotes/origin/$branch" || true)"
  elif git fetch --quiet --no-tags --depth=1 origin "$baseline" >&2 2>/dev/null; then
    commit="$(resolve FETCH_HEAD || true)"
  fi
fi
[[ -n "$commit" ]] || fail "\`baseline: $baseline\` is neither a file nor a git ref this checkout or origin has"

# The config's folder as a path inside the repository.
config_dir="$(cd "$(dirname "$config")" && pwd)"
prefix="$(cd "$config_dir" && git rev-parse --show-prefix)"
prefix="${prefix%/}"
name="$(basename "$config")"
tree="$commit"
[[ -n "$prefix" ]] && tree="$commit:$prefix"

if ! git cat-file -e "$commit:${prefix:+$prefix/}$name" 2>/dev/null; then
  log "\`$baseline\` ($commit) has no ${prefix:+$prefix/}$name yet: every change is the pull request's"
  printf '::notice title=kvsync baseline::%s does not exist on %s yet, so the plan has no baseline\n' "${prefix:+$prefix/}$name" "$baseline"
  exit 0
fi

out="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kvsync-baseline.XXXXXX")"
# From the top of the checkout: git filters index paths by the current folder.
top="$(git rev-parse --show-toplevel)"
GIT_INDEX_FILE="$out/.index" git -C "$top" read-tree "$tree"
GIT_INDEX_FILE="$out/.index" git -C "$top" checkout-index --all --prefix="$out/tree/"
rm -f "$out/.index"
log "the config as it is on \`$baseline\` ($commit) is in $out/tree"
printf '%s' "$out/tree/$name" >"$result"
