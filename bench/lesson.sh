#!/usr/bin/env bash
# Benchmark a full replay of a lesson: `dokles les --test LESSON` types every example
# command of the lesson as a scripted student (interactive steps on a pty) in a throw-away
# state root and checks every step on the real runtime. Target: lesson 1 in under 10 s.
# (The issue sets an absolute target; no Docker ratio: the lesson's pulls need Docker Hub.)
#
# Usage: bench/lesson.sh [LESSON_FILE] [HYPERFINE ARGS...]
# Environment: DOKLES (binary, default target/release/dokles, built if missing), RUNS
# (default 5).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
lesson=${1:-$here/lessons/01-eerste-container.toml}
shift || true
runs=${RUNS:-5}
dokles=${DOKLES:-$here/target/release/dokles}

for tool in hyperfine jq; do
    command -v "$tool" >/dev/null || { echo "lesson.sh: $tool is not installed" >&2; exit 1; }
done
if [ ! -x "$dokles" ]; then
    (cd "$here" && cargo build --release --quiet)
fi
# The binary must be on disk before timing (a fresh link is still being written back).
sync

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

hyperfine --runs "$runs" --warmup 1 --export-json "$out/lesson.json" "$@" \
    -n "dokles les --test $(basename "$lesson")" \
    "$dokles les --test $lesson"

median=$(jq '.results[0].median' "$out/lesson.json")
printf 'median full replay: %.2f s (target: < 10 s)\n' "$median"
