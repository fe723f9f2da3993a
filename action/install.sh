#!/usr/bin/env bash
# Installs kvsync for the action: the release archive for this runner's OS and architecture,
# checked against its published sha256, cached by version in the runner's tool cache and put on
# PATH. When the release has no archive for this version or platform, it builds kvsync from the
# action's own source with `cargo install --locked` instead, in two steps around action.yml's
# actions/cache restore (the build takes minutes, and a hosted runner keeps nothing):
#
#   install.sh         install the release, or say that a build is needed: outputs `build=true`,
#                      `cache-key`, `cache-path` and `why` (a build already in the tool cache,
#                      as a self-hosted runner keeps it, is used at once)
#   install.sh build   use the build restored into KVSYNC_BUILD_PATH, else build it there
#
# The cache key is `kvsync-source-<version>-<os>-<arch>-<source>`, where <source> is a sha256
# of what cargo builds (Cargo.toml, Cargo.lock, src/ and crates/ of the action): the action's
# commit would do, but a composite action cannot read it (`github.action_ref` is empty,
# actions/runner#2473, and the runner downloads the action without .git), and the content also
# tells apart two builds of `uses: ./` from one commit with local changes.
#
# Environment (all optional outside GitHub Actions):
#   KVSYNC_VERSION            the version to install: `0.4.1` or `v0.4.1`; `source` always builds
#   KVSYNC_REPOSITORY         owner/name of the repository that publishes the releases
#   KVSYNC_DOWNLOAD_BASE_URL  where release assets live, before `/v<version>/<archive>`
#                             [default: $GITHUB_SERVER_URL/$KVSYNC_REPOSITORY/releases/download]
#   GITHUB_ACTION_PATH        the action's source, for the fallback build
#   RUNNER_OS, RUNNER_ARCH    Linux|macOS|Windows and X64|ARM64 (what the runner sets)
#   RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT  as the runner sets them
#   KVSYNC_BUILD_PATH, KVSYNC_BUILD_WHY  `install.sh build`: the first call's `cache-path`, `why`
#
# Outputs (to $GITHUB_OUTPUT): `path` (the folder holding the binary) and `source`
# (`release`, `cache` or `cargo`); or, when a build is needed, those of the first call above.
set -euo pipefail

mode="${1:-install}"

log() { printf 'kvsync install: %s\n' "$*" >&2; }
fail() {
  printf '::error title=kvsync install::%s\n' "$*"
  exit 1
}

version="${KVSYNC_VERSION:-}"
version="${version#v}"
[[ -n "$version" ]] || fail "no version given (the action's \`version\` input is empty)"
if [[ "$version" != source && ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  fail "\`version\` must be a release such as 0.4.1 (or \`source\`), not \`$version\`"
fi

# The runner's platform as a Rust target triple, the name release archives carry.
os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$arch" in
  X64 | x86_64 | amd64) cpu=x86_64 ;;
  ARM64 | arm64 | aarch64) cpu=aarch64 ;;
  *) cpu="" ;;
esac
exe=kvsync
case "$os" in
  Linux) [[ -n "$cpu" ]] && target="$cpu-unknown-linux-musl" ;;
  macOS | Darwin) [[ -n "$cpu" ]] && target="$cpu-apple-darwin" ;;
  Windows | MINGW* | MSYS* | CYGWIN*)
    exe=kvsync.exe
    [[ "$cpu" == x86_64 ]] && target="x86_64-pc-windows-msvc"
    ;;
esac
target="${target:-}"

# Paths in bash's own form (Git Bash on Windows gets C:\... from the runner), and back.
unix_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}
native_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s\n' "$1"; fi
}
temp_root="$(unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")"
cache_root="$(unix_path "${RUNNER_TOOL_CACHE:-$temp_root}")"

set_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# Puts a folder on PATH for the following steps (the runner reads $GITHUB_PATH).
add_path() {
  local dir="$1"
  if command -v cygpath >/dev/null 2>&1; then
    dir="$(cygpath -w "$dir")"
  fi
  if [[ -n "${GITHUB_PATH:-}" ]]; then
    printf '%s\n' "$dir" >>"$GITHUB_PATH"
  fi
  set_output path "$dir"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "neither sha256sum nor shasum is installed, so the download cannot be verified"
  fi
}

action_path="$(unix_path "${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}")"

# A sha256 of the source `cargo install --path` builds: every file's path and hash, in a fixed
# order.
source_hash() {
  local sum=(sha256sum)
  command -v sha256sum >/dev/null 2>&1 || sum=(shasum -a 256)
  local parts=() part
  for part in Cargo.toml Cargo.lock build.rs rust-toolchain rust-toolchain.toml src crates; do
    [[ -e "$action_path/$part" ]] && parts+=("$part")
  done
  (
    cd "$action_path"
    find "${parts[@]}" -type f | LC_ALL=C sort | while IFS= read -r file; do "${sum[@]}" "$file"; done
  ) | "${sum[@]}" | cut -d' ' -f1
}

# The binary `cargo install --root DIR` leaves.
built_in() { printf '%s/bin/%s' "$1" "$exe"; }

# Asks for a build from source (first call): the cache key and folder, or a build already there.
build_from_source() {
  local why="$1" hash key dir
  [[ -f "$action_path/Cargo.toml" ]] || fail "$why, and $action_path holds no source to build kvsync from"
  hash="$(source_hash)"
  key="kvsync-source-$version-$os-$arch-$hash"
  dir="$cache_root/kvsync/source-${hash:0:16}/${cpu:-$arch}"
  if [[ -x "$(built_in "$dir")" ]]; then
    log "$why; kvsync built from this source is in the tool cache: $dir"
    add_path "$dir/bin"
    set_output source cache
    return
  fi
  log "$why: kvsync is built from the action's source (cache key $key)"
  set_output build true
  set_output cache-key "$key"
  set_output cache-path "$(native_path "$dir")"
  set_output why "$why"
}

# Builds kvsync into KVSYNC_BUILD_PATH, unless actions/cache restored it there (second call).
build() {
  local dir why="${KVSYNC_BUILD_WHY:-kvsync is built from source}"
  dir="$(unix_path "${KVSYNC_BUILD_PATH:?KVSYNC_BUILD_PATH is not set: give it the cache-path of the first call}")"
  if [[ -x "$(built_in "$dir")" ]] && "$(built_in "$dir")" --version >/dev/null 2>&1; then
    log "the source build was restored from the cache: $dir"
    add_path "$dir/bin"
    set_output source cache
    return
  fi
  log "$why; building kvsync from the action's source with cargo (this takes a few minutes; the build is cached for the next run)"
  printf '::notice title=kvsync install::%s; building from source with `cargo install --locked` (cached for later runs; pin a released `version` to skip the build)\n' "$why"
  command -v cargo >/dev/null 2>&1 ||
    fail "$why, and cargo is not installed to build it from source (add dtolnay/rust-toolchain or use a released version)"
  mkdir -p "$dir"
  cargo install --locked --path "$action_path" --root "$dir" --bin kvsync
  [[ -x "$(built_in "$dir")" ]] || fail "cargo install finished but $(built_in "$dir") is missing"
  add_path "$dir/bin"
  set_output source cargo
  log "built $("$(built_in "$dir")" --version 2>/dev/null || echo kvsync) into $dir/bin"
}

if [[ "$mode" == build ]]; then
  build
  exit 0
fi
if [[ "$version" == source ]]; then
  build_from_source "\`version: source\` was asked for"
  exit 0
fi
if [[ -z "$target" ]]; then
  build_from_source "no release archive is built for $os/$arch"
  exit 0
fi

# The tool cache layout the runner's own tools use: <tool>/<version>/<arch> plus <arch>.complete.
dest="$cache_root/kvsync/$version/$cpu"
if [[ -f "$dest.complete" && -x "$dest/$exe" ]]; then
  log "kvsync $version ($target) found in the tool cache: $dest"
  add_path "$dest"
  set_output source cache
  exit 0
fi

case "$target" in
  *windows*) archive="kvsync-$target.zip" ;;
  *) archive="kvsync-$target.tar.gz" ;;
esac
repository="${KVSYNC_REPOSITORY:-}"
base="${KVSYNC_DOWNLOAD_BASE_URL:-}"
if [[ -z "$base" ]]; then
  if [[ -z "$repository" ]]; then
    build_from_source "the action cannot tell which repository publishes kvsync's releases (set KVSYNC_REPOSITORY)"
    exit 0
  fi
  base="${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download"
fi
base="${base%/}"
url="$base/v$version/$archive"

work="$(mktemp -d "$temp_root/kvsync-download.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Prints the HTTP status; the body goes to $2. Retries connection errors and 5xx. A file://
# base (a folder laid out like a release) answers 200 or 404.
fetch() {
  if [[ "$1" == file://* ]]; then
    if [[ -f "${1#file://}" ]]; then
      cp "${1#file://}" "$2" && printf '200'
    else
      printf '404'
    fi
    return 0
  fi
  curl --silent --show-error --location --retry 3 --retry-delay 2 --connect-timeout 20 \
    --output "$2" --write-out '%{http_code}' "$1" || true
}

log "downloading $url"
status="$(fetch "$url" "$work/$archive")"
case "$status" in
  200) ;;
  404)
    build_from_source "kvsync $version has no release archive $archive"
    exit 0
    ;;
  *) fail "downloading $url failed (HTTP ${status:-no answer})" ;;
esac

status="$(fetch "$url.sha256" "$work/$archive.sha256")"
[[ "$status" == 200 ]] ||
  fail "the release has $archive but not its checksum $archive.sha256 (HTTP ${status:-no answer}); refusing to install an unverified binary"
expected="$(tr -d '\r' <"$work/$archive.sha256" | awk 'NF { print tolower($1); exit }')"
expected="${expected#\*}"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] ||
  fail "$archive.sha256 does not hold a sha256 (it starts with \`$(head -c 80 "$work/$archive.sha256" | tr -cd '[:print:]')\`)"
actual="$(sha256_of "$work/$archive")"
if [[ "$actual" != "$expected" ]]; then
  fail "checksum mismatch for $archive: expected $expected from $archive.sha256, got $actual; refusing to install it"
fi
log "sha256 verified: $actual"

mkdir -p "$work/unpacked"
case "$archive" in
  *.zip)
    if command -v unzip >/dev/null 2>&1; then
      unzip -q "$work/$archive" -d "$work/unpacked"
    elif command -v 7z >/dev/null 2>&1; then
      7z x -y -o"$work/unpacked" "$work/$archive" >/dev/null
    else
      pwsh -NoProfile -Command "Expand-Archive -LiteralPath '$work/$archive' -DestinationPath '$work/unpacked'"
    fi
    ;;
  *) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
esac
binary="$(find "$work/unpacked" -type f -name "$exe" | head -n 1)"
[[ -n "$binary" ]] || fail "$archive holds no $exe"

rm -rf "$dest"
mkdir -p "$dest"
cp "$binary" "$dest/$exe"
chmod +x "$dest/$exe"
touch "$dest.complete"
log "installed kvsync $version ($target) into $dest"
add_path "$dest"
set_output source release
