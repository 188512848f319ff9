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
# dokles unpacks a layer for the image's first container, Docker at load. So that the
# ratio cannot hide work moved elsewhere, a second comparison times load followed by that
# first container (`run --rm IMAGE $RUN_CMD`, Docker with `--network none` like dokles).
#
# Environment: DOKLES (binary, default target/release/dokles, built if missing), RUNS
# (default 5), OUT (hyperfine JSON, default a temp file), RUN_CMD (the first container's
# command, default `true`; empty skips the second comparison).
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
out_run=$work/hyperfine-run.json
root=$work/root

# The image IDs in the archive: docker-archive configs ("<hex>.json" or "blobs/sha256/<hex>").
ids=$(tar -xOf "$archive" manifest.json 2>/dev/null \
    | jq -r '.[].Config' | sed -e 's|^blobs/sha256/||' -e 's|\.json$||' | tr '\n' ' ')
if [ -z "${ids// }" ]; then
    echo "load.sh: $archive has no manifest.json; Docker 20.10 cannot load it" >&2
    exit 1
fi
first_tag=$(tar -xOf "$archive" manifest.json | jq -r '[.[].RepoTags // [] | .[]][0] // empty')
size=$(du -h "$archive" | cut -f1)
echo "archive: $archive ($size), images: $ids"

# shellcheck disable=SC2086
hyperfine --runs "$runs" --warmup 1 --export-json "$out" \
    --prepare "rm -rf '$root' && mkdir -p '$root'" \
    --command-name "dokles load" "'$dokles' --root '$root' docker load -i '$archive'" \
    --prepare "docker rmi -f $ids >/dev/null 2>&1 || true" \
    --command-name "docker load" "docker load -i '$archive'" \
    "$@"

# Prints the medians and their ratio from hyperfine's JSON $1, labelled $2.
ratio() {
    jq -r --arg what "$2" '
      (.results[] | select(.command | startswith("dokles")) | .median) as $d
      | (.results[] | select(.command | startswith("docker")) | .median) as $k
      | "median dokles \($what): \($d * 1000 | round) ms\nmedian docker \($what): \($k * 1000 | round) ms\nratio dokles/docker (\($what)): \(($d / $k) * 100 | round / 100)"
    ' "$1"
}
ratio "$out" load

run_cmd=${RUN_CMD-true}
if [ -n "$run_cmd" ] && [ -n "$first_tag" ]; then
    echo
    echo "load + first container: run --rm $first_tag $run_cmd"
    # shellcheck disable=SC2086
    hyperfine --runs "$runs" --warmup 1 --export-json "$out_run" \
        --prepare "rm -rf '$root' && mkdir -p '$root'" \
        --command-name "dokles load + run" \
        "'$dokles' --root '$root' docker load -i '$archive' && '$dokles' --root '$root' docker run --rm '$first_tag' $run_cmd" \
        --prepare "docker rmi -f $ids >/dev/null 2>&1 || true" \
        --command-name "docker load + run" \
        "docker load -i '$archive' && docker run --rm --network none '$first_tag' $run_cmd" \
        "$@"
    ratio "$out_run" "load + run"
fi
