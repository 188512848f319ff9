#!/usr/bin/env bash
# Benchmark starting containers: `dokles docker run --rm busybox true` against the real
# `docker run --rm busybox true` (and `podman run`, if installed), and `run -d` + `rm -f`;
# then the resident memory of an idle container's monitor (`dokles __monitor`) beside the
# containerd shim Docker keeps per container.
#
# Usage: bench/run.sh [HYPERFINE ARGS...]
#
# The busybox image is built here from the host's static busybox (all applet links,
# /etc/passwd with root and nobody, /tmp 1777) and imported into a fresh dokles state root,
# into Docker and into podman under a unique name, removed again at exit. Prints hyperfine's
# tables and the ratios of the medians (jq over --export-json).
#
# Environment: DOKLES (binary, default target/release/dokles, built if missing), RUNS
# (default 20), OUT (directory for the hyperfine JSON files, default a temp dir).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
dokles=${DOKLES:-$here/target/release/dokles}

for tool in hyperfine jq docker tar busybox; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "run.sh: Docker is not reachable (docker info failed)" >&2; exit 1; }
podman=$(command -v podman || true)
if [ ! -x "$dokles" ]; then
    (cd "$here" && cargo build --release --quiet)
fi

work=$(mktemp -d /tmp/dokles-bench-run.XXXXXX)
image=dokles-bench-busybox-$$:latest
root=$work/root
out=${OUT:-$work}
idle_ids=""
cleanup() {
    [ -n "$idle_ids" ] && "$dokles" --root "$root" docker rm -f $idle_ids >/dev/null 2>&1
    docker rm -f "dokles-bench-idle-$$" >/dev/null 2>&1
    docker rmi -f "$image" >/dev/null 2>&1
    [ -n "$podman" ] && podman rmi -f "$image" >/dev/null 2>&1
    rm -rf "$work"
    true
}
trap cleanup EXIT

# The busybox image.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,root,mnt}
chmod 1777 "$rootfs/tmp"
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for applet in $(busybox --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    ln -sf /bin/busybox "$rootfs/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
mkdir -p "$root"
"$dokles" --root "$root" docker import -c 'CMD ["sh"]' "$work/rootfs.tar" "$image" >/dev/null
docker import -c 'CMD ["sh"]' "$work/rootfs.tar" "$image" >/dev/null
[ -n "$podman" ] && podman import -c 'CMD ["sh"]' "$work/rootfs.tar" "$image" >/dev/null

D="'$dokles' --root '$root' docker"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (a shared machine: compare ratios, not absolutes)"

# run --rm true
cmds=(--command-name "dokles run" "$D run --rm $image true"
      --command-name "docker run" "docker run --rm $image true")
[ -n "$podman" ] && cmds+=(--command-name "podman run" "podman run --rm $image true")
hyperfine --runs "$runs" --warmup 2 --export-json "$out/run.json" "${cmds[@]}" "$@"

# run -d, then rm -f
detach() { echo "id=\$($1 run -d $image sleep 1000) && $1 rm -f \$id >/dev/null"; }
cmds=(--command-name "dokles run -d + rm -f" "$(detach "$D")"
      --command-name "docker run -d + rm -f" "$(detach docker)")
[ -n "$podman" ] && cmds+=(--command-name "podman run -d + rm -f" "$(detach podman)")
hyperfine --runs "$runs" --warmup 2 --export-json "$out/detach.json" "${cmds[@]}" "$@"

# Each command's median, and how dokles' median compares: "dokles/docker 0.25" = a quarter of
# Docker's time.
ratios() {
    jq -r --arg base "$2" '
      (.results[] | select(.command == $base) | .median) as $b
      | .results[]
      | "  \(.command): median \(.median * 1000 | round) ms"
        + (if .command == $base then "" else ", dokles/this = \(($b / .median) * 100 | round / 100)" end)
    ' "$1"
}
echo
echo "run --rm true:"
ratios "$out/run.json" "dokles run"
echo "run -d + rm -f:"
ratios "$out/detach.json" "dokles run -d + rm -f"

# The idle monitor's memory, beside Docker's per-container shim.
id=$("$dokles" --root "$root" docker run -d "$image" sleep 1000)
idle_ids=$id
monitor=$(pgrep -f "__monitor .*$id" | head -1)
sleep 1
echo
echo "idle container (sleep 1000):"
echo "  dokles __monitor RSS: $(ps -o rss= -p "$monitor" | tr -d ' ') KiB"
did=$(docker run -d --name "dokles-bench-idle-$$" "$image" sleep 1000)
shim=$(pgrep -f "containerd-shim-runc-v2 .*-id $did" | head -1 || true)
if [ -n "$shim" ]; then
    echo "  docker containerd-shim-runc-v2 RSS: $(ps -o rss= -p "$shim" | tr -d ' ') KiB"
fi
