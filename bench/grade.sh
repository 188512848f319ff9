#!/usr/bin/env bash
# Benchmark grading: `dokles nakijken` grades COPIES (default 20) copies of a full lesson-1
# submission (fixtures/submissions/les1/perfect.txt: every step, python pulled from the
# offline cache, an interactive run with Ctrl+P Ctrl+Q, exec -it, restart) with
# `--parallel PARALLEL` (default 2), each in its own sandbox, and prints the throughput in
# submissions per minute. Every copy must pass every step (the exit code says so).
#
# Usage: bench/grade.sh [SUBMISSION]
# Environment: DOKLES (binary, default target/release/dokles, built if missing), COPIES,
# PARALLEL, LES (the lesson, default 1).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
submission=${1:-$here/fixtures/submissions/les1/perfect.txt}
copies=${COPIES:-20}
parallel=${PARALLEL:-2}
lesson=${LES:-1}
dokles=${DOKLES:-$here/target/release/dokles}

if [ "$(id -u)" -ne 0 ]; then
    echo "grade.sh: grading needs root (mounts, cgroups, containers)" >&2
    exit 1
fi
if [ ! -x "$dokles" ]; then
    (cd "$here" && cargo build --release --quiet)
fi
sync

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
files=()
for i in $(seq -w 1 "$copies"); do
    cp "$submission" "$work/inzending-$i.txt"
    files+=("$work/inzending-$i.txt")
done

start=$(date +%s.%N)
"$dokles" nakijken --les "$lesson" --parallel "$parallel" --json "${files[@]}" \
    >"$work/report.json" 2>"$work/progress.log" || {
    echo "grade.sh: not every copy passed every step:" >&2
    jq -r '.submissions[] | select(.passed | not) | "\(.submission): \(.status) \(.points)/\(.max_points) \(.message // "")"' \
        "$work/report.json" >&2 || cat "$work/progress.log" >&2
    exit 1
}
end=$(date +%s.%N)

seconds=$(echo "$end - $start" | bc -l)
mean=$(jq '[.submissions[].timing.seconds] | add / length' "$work/report.json")
printf '%d submissions of %s, --parallel %d: %.1f s in all, %.1f s per submission on average\n' \
    "$copies" "$(basename "$submission")" "$parallel" "$seconds" "$mean"
printf 'throughput: %.1f submissions per minute\n' "$(echo "$copies * 60 / $seconds" | bc -l)"
