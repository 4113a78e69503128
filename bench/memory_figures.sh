#!/usr/bin/env bash
# Peak memory (max RSS, from /usr/bin/time -v) of `cachestress --scenario shared` for:
# 10k builds all in flight at once, 10k builds at concurrency 16, 100k builds at
# concurrency 16. The first shows the cost per build in flight; the last two must match
# (memory must not grow with the number of builds run). Builds nothing.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/memory_figures.sh [-b BUILD_DIR] [-w WORK_BASE]
  -b  build directory holding cachestress (default: build/dev)
  -w  directory under which cachestress creates its workspace (default: /dev/shm if present, else $TMPDIR or /tmp)
EOF
}

bench_name=memory_figures
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
while getopts "b:w:h" opt; do
  bench_option "$opt" "${OPTARG-}"
done
bench_resolve
bench_need_programs "$engine"
bench_need_tools time jq

# Outside the checkout, so cachestress writes no report into results/.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

echo "# cachestress --scenario shared, workspaces under $work_base ($(stat -f -c %T "$work_base"))"
printf '%-8s %-12s %12s %10s %12s %10s %9s %6s %5s\n' \
  builds concurrency max_rss_MiB wall_s builds/s completed failed io_err exit
measure() {
  local builds=$1 concurrency=$2 status=0
  TMPDIR=$work_base /usr/bin/time -v -o time.txt "$engine" --scenario shared --builds "$builds" \
    --concurrency "$concurrency" --format json -q >report.json || status=$?
  local rss_kib wall
  rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' time.txt)
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' time.txt)
  jq -r --arg b "$builds" --arg c "$concurrency" --arg rss "$rss_kib" --arg wall "$wall" --arg exit "$status" \
    '.cells[0].summary | [$b, $c, ($rss | tonumber / 1024 | . * 10 | round / 10), $wall, (.builds_per_s | round),
                 .builds.completed, .builds.failed, .errors.io, $exit] | @tsv' report.json |
    awk -F'\t' '{ printf "%-8s %-12s %12s %10s %12s %10s %9s %6s %5s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
}

measure 10000 10000
measure 10000 16
measure 100000 16
