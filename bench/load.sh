#!/usr/bin/env bash
# Benchmark `dokles docker load -i ARCHIVE` against the real `docker load -i ARCHIVE`.
#
# Usage: bench/load.sh [ARCHIVE] [HYPERFINE ARGS...]
#   ARCHIVE   a docker-archive or OCI layout tarball, gzip or not
#             (default: fixtures/images/python.tar.gz)
#
# Every run starts from a fresh state: dokles gets an empty state root, and the archive's
# images are removed from Docker first (`docker rmi -f` by image ID — do not bench an image
# you want to keep in Docker). Prints hyperfine's table and the ratio of the medians.
#
# Environment: DOKLES (binary, default target/release/dokles, built if missing), RUNS
# (default 5), OUT (hyperfine JSON, default a temp file).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
archive=${1:-$here/fixtures/images/python.tar.gz}
shift || true
runs=${RUNS:-5}
dokles=${DOKLES:-$here/target/release/dokles}

for tool in hyperfine jq docker tar; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool is not installed" >&2; exit 1; }
done
[ -f "$archive" ] || { echo "load.sh: no archive at $archive" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "load.sh: Docker is not reachable (docker info failed)" >&2; exit 1; }
if [ ! -x "$dokles" ]; then
    (cd "$here" && cargo build --release --quiet)
fi

# Beside /var/lib/docker, on the same filesystem area: ext4 inode allocation slows down
# near many recent deletions (as in /tmp during test runs), which would skew the ratio.
work=$(mktemp -d /var/lib/dokles-bench-load.XXXXXX)
trap 'rm -rf "$work"; [ -n "${ids:-}" ] && docker rmi -f $ids >/dev/null 2>&1; true' EXIT
out=${OUT:-$work/hyperfine.json}
root=$work/root

# The image IDs in the archive: docker-archive configs ("<hex>.json" or "blobs/sha256/<hex>").
ids=$(tar -xOf "$archive" manifest.json 2>/dev/null \
    | jq -r '.[].Config' | sed -e 's|^blobs/sha256/||' -e 's|\.json$||' | tr '\n' ' ')
if [ -z "${ids// }" ]; then
    echo "load.sh: $archive has no manifest.json; Docker 20.10 cannot load it" >&2
    exit 1
fi
size=$(du -h "$archive" | cut -f1)
echo "archive: $archive ($size), images: $ids"

# shellcheck disable=SC2086
hyperfine --runs "$runs" --warmup 1 --export-json "$out" \
    --prepare "rm -rf '$root' && mkdir -p '$root'" \
    --command-name "dokles load" "'$dokles' --root '$root' docker load -i '$archive'" \
    --prepare "docker rmi -f $ids >/dev/null 2>&1 || true" \
    --command-name "docker load" "docker load -i '$archive'" \
    "$@"

jq -r '
  (.results[] | select(.command == "dokles load") | .median) as $d
  | (.results[] | select(.command == "docker load") | .median) as $k
  | "median dokles load: \($d * 1000 | round) ms\nmedian docker load: \($k * 1000 | round) ms\nratio dokles/docker: \(($d / $k) * 100 | round / 100)"
' "$out"
