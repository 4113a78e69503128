#!/usr/bin/env bash
# Per-build overhead of --backend process: runs the same trivial scenario (one step, one
# shared mount, one write and one read, a cache root per build) with --backend inproc and
# --backend process, alternately, REPS times each, and prints the median builds/s of both,
# their ratio, the cost per build in microseconds, and the process backend's own measure of
# a worker's start, worker_start_us p50 (from the request to the fork server to the build's
# hello: the fork and the plan; with a spawned worker, where pidfds are missing: fork, exec,
# loading, plan).
#
# Workspaces go under /dev/shm by default, so the figure is the backend's cost (fork, exec,
# pipes, plan and event encoding) rather than the disk's. To compare two builds, run it with
# -b for each in turn (interleaved), e.g. the fork server's before/after row in the README.
# Builds nothing: build first with `cmake --build build/dev`.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bench/process_overhead.sh [-b BUILD_DIR] [-n BUILDS] [-c CONCURRENCY] [-r REPS] [-w WORK_BASE]
  -b  build directory holding cachestress (default: build/dev)
  -n  builds per run (default: 2000)
  -c  builds in flight (default: 8)
  -r  runs of each backend, interleaved (default: 3)
  -w  directory under which the runs create their workspace (default: /dev/shm if present, else $TMPDIR or /tmp)
USAGE
}

bench_name=process_overhead
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
builds=2000
concurrency=8
reps=3
while getopts "b:n:c:r:w:h" opt; do
  case $opt in
    n) builds=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    r) reps=$OPTARG ;;
    *) bench_option "$opt" "${OPTARG-}" ;;
  esac
done
bench_resolve
bench_need_programs "$engine"
bench_need_tools jq

scratch=$(mktemp -d "$work_base/process-overhead-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cat >"$scratch/trivial.toml" <<'TOML'
description = "one step: write then read back, a cache root per build"
[run]
isolation = "per-build"
[[build]]
name = "trivial"
[[build.step]]
mount = { target = "/cache", sharing = "shared" }
ops = [ { op = "write", file = "f", value = "v" }, { op = "read", file = "f", expect = "own" } ]
TOML

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

inproc_rates=() process_rates=() starts=()
for ((i = 1; i <= reps; i++)); do
  for backend in inproc process; do
    (cd "$scratch" && TMPDIR=$scratch "$engine" --scenario trivial.toml --backend "$backend" --builds "$builds" \
      --concurrency "$concurrency" -q --out "$scratch/$backend.json" >/dev/null)
    rate=$(jq '.cells[0].summary.builds_per_s' "$scratch/$backend.json")
    if [[ $backend = inproc ]]; then
      inproc_rates+=("$rate")
    else
      process_rates+=("$rate")
      starts+=("$(jq '.cells[0].summary.worker_start_us.p50' "$scratch/$backend.json")")
    fi
  done
done
inproc=$(printf '%s\n' "${inproc_rates[@]}" | median)
process=$(printf '%s\n' "${process_rates[@]}" | median)
start=$(printf '%s\n' "${starts[@]}" | median)
awk -v a="$inproc" -v b="$process" -v s="$start" -v n="$builds" -v c="$concurrency" -v r="$reps" 'BEGIN {
  printf "%d builds, concurrency %d, median of %d runs each (%s)\n", n, c, r, "trivial: write + read, per-build root"
  printf "%-10s %12s %14s\n", "backend", "builds/s", "us/build"
  printf "%-10s %12.1f %14.1f\n", "inproc", a, 1e6 / a
  printf "%-10s %12.1f %14.1f\n", "process", b, 1e6 / b
  printf "ratio process/inproc: %.3f (%.1fx slower); extra wall time per build %.0f us; worker start p50 %.0f us\n",
         b / a, a / b, 1e6 / b - 1e6 / a, s
}'
