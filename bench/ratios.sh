#!/usr/bin/env bash
# Every performance ratio of the README in one run: each pair is measured side by side,
# all measurements interleaved (one round runs each of them once, in an order rotated per
# round), REPS rounds, and printed as the README's table with the machine and its load
# average, so anyone can rerun it and compare. Each row's figure is the median of the
# rounds' own ratios, with the middle half of them and a verdict (met, not met, or within
# noise when the target lies inside that middle half):
#
#   locked handoff   cachestress (bench/locked_handoff.toml, inproc) vs bench/reference_locked
#                    --mode threads / processes (the same syscalls per build, no loop), and
#                    vs --mode handoff (the raw F_SETLKW loop: the floor), at -c 1, 16, 64
#   shared           cachestress --scenario shared vs bench/reference_shared, -c 16
#   process          --backend process, one write + read per build, vs the command backend
#                    running `true` (a bare spawn), same concurrency
#   spawn            cachestress --scenario spawn vs `xargs -P16 -n1 true`, wall clock; vs
#                    bench/reference_spawn --mode capture (the command backend's syscalls, no
#                    loop) and --mode bare (posix_spawnp + waitpid: the floor); and the floor vs
#                    xargs (as far ahead of xargs as any launcher can be on this machine)
#   memory           peak RSS of 10,000 builds in flight (shared scenario), once
#
# Workspaces go under /dev/shm by default (the engine's cost, not the disk's). Builds
# nothing: `cmake --build build/dev --target cachestress reference_locked reference_shared reference_spawn`.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: bench/ratios.sh [-b BUILD_DIR] [-r REPS] [-n LOCKED_BUILDS] [-w WORK_BASE] [-q | -p]
  -b  build directory holding cachestress and bench/reference_* (default: build/dev)
  -r  rounds, each running every measurement once (default: 5)
  -n  builds per locked-handoff run (default: 10000; the raw handoff runs 10x as many)
  -w  directory under which the runs create their workspaces (default: /dev/shm if present)
  -q  quick: locked handoff and shared only (no process, spawn or memory figures)
  -p  process: the process, spawn and memory figures only (needs cachestress, reference_spawn)
USAGE
}

bench_name=ratios
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=bench/ratio_table.sh
source "$(dirname "${BASH_SOURCE[0]}")/ratio_table.sh"
reps=5
locked_builds=10000
quick=0
process_only=0
while getopts "b:r:n:w:qph" opt; do
  case $opt in
    r) reps=$OPTARG ;;
    n) locked_builds=$OPTARG ;;
    q) quick=1 ;;
    p) process_only=1 ;;
    *) bench_option "$opt" "${OPTARG-}" ;;
  esac
done
for value in "$reps" "$locked_builds"; do
  [[ $value =~ ^[1-9][0-9]*$ ]] || { echo "ratios: -r and -n take a whole number of at least 1, not '$value'" >&2; exit 2; }
done
if ((quick && process_only)); then
  echo "ratios: -q and -p leave nothing to run: give one of them" >&2
  usage >&2
  exit 2
fi
bench_resolve
((process_only)) || bench_need_programs "$engine" "$build_dir/bench/reference_locked" "$build_dir/bench/reference_shared"
((quick)) || bench_need_programs "$engine" "$build_dir/bench/reference_spawn"
bench_need_tools jq time

# Outside the checkout, so cachestress writes no report into results/.
scratch=$(mktemp -d "$work_base/ratios-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
cat >trivial.toml <<'TOML'
description = "bench/ratios.sh: one step, write then read back, a cache root per build"
[run]
isolation = "per-build"
[[build]]
name = "trivial"
[[build.step]]
mount = { target = "/cache", sharing = "shared" }
ops = [ { op = "write", file = "f", value = "v" }, { op = "read", file = "f", expect = "own" } ]
TOML
process_builds=500
process_concurrency=8
spawn_count=2000
shared_builds=20000

# Runs cachestress and prints .cells[0].summary.builds_per_s; exit 1 (an [expect] entry) still counts.
engine_rate() {
  local status=0
  # stderr kept aside: a built-in's [expect] (e.g. spawn's builds.completed == 2000) may not
  # hold at another --builds, which is not an error of the measurement.
  TMPDIR=$scratch "$engine" "$@" -q --out "$scratch/report.json" >/dev/null 2>"$scratch/engine.err" || status=$?
  if [[ $status -ne 0 && $status -ne 1 ]]; then
    echo "ratios: cachestress $* exited $status" >&2
    cat "$scratch/engine.err" >&2
    exit 1
  fi
  jq '.cells[0].summary.builds_per_s' "$scratch/report.json"
}
reference_rate() { "$build_dir/bench/$1" "${@:2}" --workdir "$scratch" --format json | jq '.builds_per_s'; }
now() { date +%s.%N; }
# Wall-clock processes/s of a command that runs $spawn_count processes.
wall_rate() {
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "ratios: failed: $*" >&2; exit 1; }
  t1=$(now)
  awk -v n="$spawn_count" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }'
}

measure() {
  case $1 in
    locked_engine_c*) engine_rate --scenario "$repo_root/bench/locked_handoff.toml" --builds "$locked_builds" --concurrency "${1#locked_engine_c}" ;;
    locked_threads_c*) reference_rate reference_locked --mode threads --builds "$locked_builds" --concurrency "${1#locked_threads_c}" ;;
    locked_processes_c*) reference_rate reference_locked --mode processes --builds "$locked_builds" --concurrency "${1#locked_processes_c}" ;;
    locked_handoff_c*) reference_rate reference_locked --mode handoff --lock-kind fcntl --builds $((locked_builds * 10)) --concurrency "${1#locked_handoff_c}" ;;
    shared_engine) engine_rate --scenario shared --builds "$shared_builds" --concurrency 16 ;;
    shared_reference) reference_rate reference_shared --builds "$shared_builds" --concurrency 16 ;;
    process_backend) engine_rate --scenario trivial.toml --backend process --builds "$process_builds" --concurrency "$process_concurrency" ;;
    command_true) engine_rate --scenario spawn --builds "$process_builds" --concurrency "$process_concurrency" ;;
    spawn_engine) wall_rate env TMPDIR="$scratch" "$engine" --scenario spawn --builds "$spawn_count" --concurrency 16 -q --out /dev/null ;;
    spawn_xargs) wall_rate sh -c "seq $spawn_count | xargs -P 16 -n1 true" ;;
    spawn_capture) wall_rate "$build_dir/bench/reference_spawn" --mode capture --builds "$spawn_count" --concurrency 16 ;;
    spawn_floor) wall_rate "$build_dir/bench/reference_spawn" --mode bare --builds "$spawn_count" --concurrency 16 ;;
  esac
}

names=()
if ((!process_only)); then
  for c in 1 16 64; do names+=("locked_engine_c$c" "locked_threads_c$c" "locked_processes_c$c" "locked_handoff_c$c"); done
  names+=(shared_engine shared_reference)
fi
((quick)) || names+=(process_backend command_true spawn_engine spawn_xargs spawn_capture spawn_floor)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$scratch/results.txt  # "ROUND NAME VALUE" lines, read by ratio_row
: >"$results"
for ((round = 0; round < reps; round++)); do
  # Rotate the order each round so slow drift (other load, page cache) hits every program alike.
  count=${#names[@]}
  for ((i = 0; i < count; i++)); do
    name=${names[$(((i + round * 3) % count))]}
    echo "$round $name $(measure "$name")" >>"$results"
  done
  echo "round $((round + 1))/$reps done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

rss_mib=""
if ((!quick)); then
  TMPDIR=$scratch /usr/bin/time -v -o time.txt "$engine" --scenario shared --builds 10000 --concurrency 10000 -q \
    --out /dev/null >/dev/null || true
  rss_mib=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' time.txt)
fi

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "Machine: $(nproc) CPUs ($cpu), $(uname -sr), workspaces on $(stat -f -c %T "$work_base");"
echo "load average $load_before before, $load_after after; $reps interleaved rounds; commit $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)."
echo
echo "| ratio | target | engine /s | reference /s | achieved | middle half of rounds | verdict |"
echo "|---|---|---:|---:|---:|---:|---|"
if ((!process_only)); then
  for c in 1 16 64; do
    ratio_row "locked handoff -c $c / reference_locked threads" "≥ 80%" "locked_engine_c$c" "locked_threads_c$c"
    ratio_row "locked handoff -c $c / reference_locked processes" "—" "locked_engine_c$c" "locked_processes_c$c"
    ratio_row "locked handoff -c $c / raw F_SETLKW handoff" "aim ≥ 50%" "locked_engine_c$c" "locked_handoff_c$c"
  done
  ratio_row "shared -c 16 / reference_shared" "≥ 90%" shared_engine shared_reference
fi
if ((!quick)); then
  ratio_row "process backend trivial build / command backend \`true\` (-c $process_concurrency)" "≥ 50%" process_backend command_true
  ratio_row "spawn \`true\` -c 16 / \`xargs -P16\` (wall)" "≥ 140%" spawn_engine spawn_xargs
  ratio_row "spawn \`true\` -c 16 / reference_spawn --mode capture (same syscalls, no loop)" "—" spawn_engine spawn_capture
  ratio_row "spawn \`true\` -c 16 / reference_spawn --mode bare (the floor)" "—" spawn_engine spawn_floor
  ratio_row "reference_spawn --mode bare / \`xargs -P16\`: the most any launcher reaches here" "—" spawn_floor spawn_xargs
  verdict="not met"
  [[ -n $rss_mib ]] && ((rss_mib < 286)) && verdict="met"  # 300 MB = 286 MiB
  [[ -z $rss_mib ]] && verdict="not measured"
  echo "| 10,000 builds in flight: peak RSS | < 300 MB | ${rss_mib} MiB | | | one run | $verdict |"
fi
