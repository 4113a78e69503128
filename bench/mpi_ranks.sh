#!/usr/bin/env bash
# cachestress-mpi: builds/s and p99 lock wait at 1, 2 and 4 ranks on `locked` and `shared`,
# medians of R runs (default 3), ranks interleaved so machine drift spreads evenly.
#   bench/mpi_ranks.sh [-b BUILDS_PER_RANK] [-r RUNS] [-H HOSTFILE] [-w SHARED_WORKDIR]
# Without -H every rank runs on this host (mpirun --mca plm isolated). Prints a Markdown table.
set -euo pipefail
builds=200 runs=3 hostfile="" workdir=""
while getopts "b:r:H:w:" opt; do
  case $opt in
    b) builds=$OPTARG ;; r) runs=$OPTARG ;; H) hostfile=$OPTARG ;; w) workdir=$OPTARG ;;
    *) echo "usage: $0 [-b BUILDS_PER_RANK] [-r RUNS] [-H HOSTFILE] [-w SHARED_WORKDIR]" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CACHESTRESS_MPI:-$root/build/dev/cachestress-mpi}
[[ -x $bin ]] || { echo "$bin not built (apt-get install libopenmpi-dev, then build cachestress-mpi)" >&2; exit 3; }
launch=(mpirun --allow-run-as-root --oversubscribe)
if [[ -n $hostfile ]]; then launch+=(--hostfile "$hostfile"); else launch+=(--mca plm isolated --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo); fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
  for scenario in locked shared; do
    for n in 1 2 4; do
      args=(--scenario "$scenario" --builds $((builds * n)) --out "$tmp/$scenario-$n-$i.json" -q)
      [[ -n $workdir ]] && args+=(--workdir "$workdir/cachestress-bench-$$")
      "${launch[@]}" -n "$n" "$bin" "${args[@]}" >/dev/null
    done
  done
done
echo "| scenario | ranks | builds | builds/s (median of $runs) | lock wait p99 |"
echo "|---|---|---|---|---|"
python3 - "$tmp" "$runs" <<'PY'
import json, statistics, sys, glob
tmp, runs = sys.argv[1], int(sys.argv[2])
for scenario in ("locked", "shared"):
    for n in (1, 2, 4):
        docs = [json.load(open(f)) for f in sorted(glob.glob(f"{tmp}/{scenario}-{n}-*.json"))]
        cells = [d["cells"][0] if "cells" in d else d for d in docs]
        rate = statistics.median(c["summary"]["builds_per_s"] for c in cells)
        p99 = statistics.median(c["summary"]["lock_wait_us"]["p99"] for c in cells)
        builds = cells[0]["summary"]["builds"]["completed"]
        print(f"| {scenario} | {n} | {builds} | {rate:,.0f} | {p99 / 1000:.1f} ms |")
PY
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)"
