#!/usr/bin/env bash
# Engine vs plain threads on the `shared` scenario: runs bench/reference_shared and
# `cachestress --scenario shared` alternately, REPS times each, and prints the median
# builds/s and ops/s of both and the ratio engine / reference. Also the CPU time (user +
# sys) each spends per build: unlike the wall-clock rate it does not depend on how the
# scheduler shares a busy machine (CFS shares per thread, so the reference's C threads
# outbid the engine's 1 loop + 4 pool threads when other work competes for the cores).
#
# The runs go under a tmpfs (/dev/shm) by default, so the figure measures the engine's own
# cost (loop, threadpool hops, bookkeeping) rather than the disk; pass -w to measure on a
# real filesystem (on ext4 mounted with `discard`, every O_TRUNC waits for a discard).
# Builds nothing: build first with `cmake --build build/dev`.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/compare_reference.sh [-b BUILD_DIR] [-n BUILDS] [-c CONCURRENCY] [-r REPS] [-w WORK_BASE] [-k engine|none]
  -b  build directory holding cachestress and bench/reference_shared (default: build/dev)
  -n  builds per run (default: 20000, about a second each on 2 cores)
  -c  builds in flight / reference threads (default: 16)
  -r  runs of each program, interleaved (default: 5)
  -w  directory under which both create their workspace (default: /dev/shm if present, else $TMPDIR or /tmp)
  -k  reference_shared --checks: engine (same syscalls as the engine, default) or none
EOF
}

bench_name=compare_reference
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
builds=20000
concurrency=16
reps=5
checks=engine
while getopts "b:n:c:r:w:k:h" opt; do
  case $opt in
    n) builds=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    r) reps=$OPTARG ;;
    k) checks=$OPTARG ;;
    *) bench_option "$opt" "${OPTARG-}" ;;
  esac
done
# Absolute paths: the runs happen in a scratch directory (outside the checkout, so
# cachestress writes no report into results/).
bench_resolve
reference=$build_dir/bench/reference_shared
bench_need_programs "$engine" "$reference"
bench_need_tools jq time

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

# CPU microseconds per build of the last timed run (whole process: setup and cleanup too).
cpu_us_per_build() {
  awk -v builds="$builds" '{ printf "%.2f", ($1 + $2) * 1e6 / builds }' "$scratch/cpu.txt"
}

# One line per run: "<program> <builds/s> <ops/s> <errors> <CPU us/build>".
run_reference() {
  local json
  json=$(/usr/bin/time -f "%U %S" -o "$scratch/cpu.txt" "$reference" --builds "$builds" \
    --concurrency "$concurrency" --workdir "$work_base" --checks "$checks" --format json)
  jq -r --arg cpu "$(cpu_us_per_build)" '"reference \(.builds_per_s) \(.ops_per_s) \(.errors) \($cpu)"' <<<"$json"
}

run_engine() {
  local json status=0
  json=$(TMPDIR=$work_base /usr/bin/time -f "%U %S" -o "$scratch/cpu.txt" "$engine" --scenario shared \
    --builds "$builds" --concurrency "$concurrency" --format json -q) || status=$?
  # Exit 1 only means an [expect] entry failed; the figures are still valid, and counted.
  if [[ $status -ne 0 && $status -ne 1 ]]; then
    echo "compare_reference: cachestress exited $status" >&2
    exit 1
  fi
  jq -r --arg cpu "$(cpu_us_per_build)" \
    '.cells[0].summary | "engine \(.builds_per_s) \(.ops.completed / .duration_s) \(.errors.io + .builds.failed) \($cpu)"' <<<"$json"
}

echo "# $builds builds, concurrency $concurrency, $reps runs each, workspaces under $work_base ($(stat -f -c %T "$work_base")), reference checks: $checks"
results=$scratch/results.txt
record() {
  local line
  line=$("$@")
  echo "$line" >>"$results"
  awk '{ printf "%-9s %10.1f builds/s %10.1f ops/s %3d errors %7.1f CPU us/build\n", $1, $2, $3, $4, $5 }' <<<"$line"
}
for ((i = 1; i <= reps; i++)); do
  # Alternate who goes first, so slow drift (page cache, other load) hits both alike.
  if ((i % 2)); then
    record run_reference
    record run_engine
  else
    record run_engine
    record run_reference
  fi
done

# Median of column $2 for lines starting with program $1.
median() {
  awk -v program="$1" -v column="$2" '$1 == program { print $column }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ref_builds=$(median reference 2)
ref_ops=$(median reference 3)
eng_builds=$(median engine 2)
eng_ops=$(median engine 3)
ref_cpu=$(median reference 5)
eng_cpu=$(median engine 5)
errors=$(awk '{ sum += $4 } END { print sum + 0 }' "$results")
awk -v rb="$ref_builds" -v ro="$ref_ops" -v rc="$ref_cpu" -v eb="$eng_builds" -v eo="$eng_ops" -v ec="$eng_cpu" \
  -v errors="$errors" 'BEGIN {
  printf "median reference: %10.1f builds/s %10.1f ops/s %7.1f CPU us/build\n", rb, ro, rc
  printf "median engine:    %10.1f builds/s %10.1f ops/s %7.1f CPU us/build\n", eb, eo, ec
  printf "engine / reference: %.1f%% (builds/s), %.1f%% (ops/s), %.1f%% (reference CPU / engine CPU per build)\n",
         100 * eb / rb, 100 * eo / ro, 100 * rc / ec
  printf "errors in all runs: %d\n", errors
}'
