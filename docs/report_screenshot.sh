#!/usr/bin/env bash
# Makes docs/report.png, the screenshot in README.md: a sweep over sharing x concurrency of
# the podman#25414 scenario (two isolation groups, so the timeline has two cache keys), its
# HTML report, and headless Chromium's picture of the page. Rerun it after changing a chart:
#   cmake --preset dev && cmake --build build/dev && docs/report_screenshot.sh
# Needs chromium (apt-get install chromium). Runs are real, so the figures differ a little
# from run to run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CACHESTRESS:-$root/build/dev/cachestress}
out=$(realpath -m "${1:-$root/docs/report.png}")
# The page is about this tall at this width; raise the height if a chart grows.
size=960,3000

command -v chromium >/dev/null || { echo "report_screenshot: chromium is not installed" >&2; exit 3; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"  # the page names its source as given: sweep.json, not a temporary path
status=0
TMPDIR=$work "$bin" --scenario remote-tmpdir --isolation per-group:2 --interval-ms 50 \
  --sweep sharing=shared,locked --sweep concurrency=2,4,8 --out sweep.json -q >/dev/null || status=$?
[[ $status -le 1 ]] || exit "$status"  # 1: an expectation failed, the report is still whole
"$bin" report sweep.json -o report.html 2>/dev/null
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --hide-scrollbars --user-data-dir="$work/profile" --window-size="$size" \
  --screenshot="$out" "file://$work/report.html" 2>/dev/null
echo "report_screenshot: wrote $out ($(stat -c %s "$out") bytes)"
