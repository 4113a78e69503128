#!/usr/bin/env bash
# Spawning is not the bottleneck: runs `true` N times at concurrency C three ways, REPS
# times each, interleaved, and prints processes/s side by side with the ratio to xargs:
#   cachestress --scenario spawn (the command backend: posix_spawn + pidfd, stdout/stderr captured)
#   seq N | xargs -P C -n1 true
#   seq N | parallel -j C -n0 true        (GNU parallel; skipped when not installed)
# Wall clock per run, median over REPS. Builds nothing: build first (cmake --build build/dev).
set -euo pipefail

usage() { echo "usage: bench/spawn_compare.sh [-b BUILD_DIR] [-n COUNT] [-c CONCURRENCY] [-r REPS]" >&2; exit 2; }
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/dev
count=2000
concurrency=16
reps=3
while getopts "b:n:c:r:h" opt; do
  case $opt in
    b) build_dir=$OPTARG ;;
    n) count=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    r) reps=$OPTARG ;;
    *) usage ;;
  esac
done
cd "$repo_root"
bin=$build_dir/cachestress
[[ -x $bin ]] || { echo "no $bin: build it first (cmake --build $build_dir)" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() { python3 -c 'import sys,time; print(time.monotonic())'; }
# run NAME CMD...: wall seconds of one run appended to $work/NAME.
run() {
  local name=$1; shift
  local t0 t1
  t0=$(seconds)
  "$@" >/dev/null 2>&1 || { echo "$name failed: $*" >&2; exit 1; }
  t1=$(seconds)
  python3 -c "print($t1 - $t0)" >> "$work/$name"
}

comparators=(cachestress xargs)
if command -v parallel >/dev/null; then comparators+=(parallel); else echo "GNU parallel not installed: skipped"; fi
for ((i = 0; i < reps; i++)); do
  run cachestress env TMPDIR="$work" "$bin" --scenario spawn --builds "$count" --concurrency "$concurrency" -q --out /dev/null
  run xargs sh -c "seq $count | xargs -P $concurrency -n1 true"
  if [[ " ${comparators[*]} " == *" parallel "* ]]; then
    run parallel sh -c "seq $count | parallel --will-cite -j $concurrency -n0 true"
  fi
done

echo "true x $count at concurrency $concurrency, median of $reps runs ($(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
python3 - "$work" "$count" "${comparators[@]}" <<'PY'
import statistics, sys
work, count, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rate = {n: count / statistics.median(float(x) for x in open(f"{work}/{n}")) for n in names}
print(f"{'runner':<12} {'processes/s':>12} {'vs xargs':>9}")
for n in names:
    print(f"{n:<12} {rate[n]:>12.0f} {rate[n] / rate['xargs']:>8.2f}x")
if "parallel" in rate:
    print(f"cachestress / parallel: {rate['cachestress'] / rate['parallel']:.2f}x")
PY
