#!/usr/bin/env bash
# Packages one release binary the way action/install.sh expects it:
#
#   package.sh TARGET BINARY OUTDIR
#
# writes OUTDIR/kvsync-TARGET.tar.gz (.zip for Windows targets), holding the folder
# kvsync-TARGET/ with the binary, the README, the licenses and the changelog, and beside it
# OUTDIR/kvsync-TARGET.tar.gz.sha256 in `sha256sum` format (`<hash>  <archive>`). The release
# workflow concatenates the .sha256 files into sha256.sum, which `sha256sum --check` accepts.
set -euo pipefail

target="${1:?usage: package.sh TARGET BINARY OUTDIR}"
binary="${2:?usage: package.sh TARGET BINARY OUTDIR}"
outdir="${3:?usage: package.sh TARGET BINARY OUTDIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"

[[ -f "$binary" ]] || { echo "package.sh: no binary at $binary" >&2; exit 1; }
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
name="kvsync-$target"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/"
for doc in README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE; do
  if [[ -f "$root/$doc" ]]; then cp "$root/$doc" "$stage/$name/"; fi
done

case "$target" in
  *windows*)
    archive="$name.zip"
    rm -f "$outdir/$archive"
    if command -v 7z >/dev/null 2>&1; then
      (cd "$stage" && 7z a -tzip -bd "$outdir/$archive" "$name" >/dev/null)
    else
      (cd "$stage" && zip -qr "$outdir/$archive" "$name")
    fi
    ;;
  *)
    archive="$name.tar.gz"
    chmod +x "$stage/$name/$(basename "$binary")"
    tar -C "$stage" -czf "$outdir/$archive" "$name"
    ;;
esac

if command -v sha256sum >/dev/null 2>&1; then
  hash="$(sha256sum "$outdir/$archive" | cut -d' ' -f1)"
else
  hash="$(shasum -a 256 "$outdir/$archive" | cut -d' ' -f1)"
fi
printf '%s  %s\n' "$hash" "$archive" >"$outdir/$archive.sha256"
echo "$outdir/$archive"
