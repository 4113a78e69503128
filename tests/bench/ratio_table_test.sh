#!/usr/bin/env bash
# bench/ratio_table.sh judges made-up rounds as bench/ratios.sh would judge measured ones:
# the figure is the median of each round's own ratio, and the verdict says met, not met,
# within noise or undecided exactly as the README's performance section explains.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/ratio_table.sh
source "$here/../../bench/ratio_table.sh"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
failures=0

# rounds NUM DEN "engine reference" ...: one round per pair, in order.
rounds() {
  local num=$1 den=$2 round=0 pair
  shift 2
  : >"$results"
  for pair in "$@"; do
    round=$((round + 1))
    echo "$round $num ${pair% *}" >>"$results"
    echo "$round $den ${pair#* }" >>"$results"
  done
}
# expect_row TARGET WANT_ACHIEVED WANT_RANGE WANT_VERDICT: checks the row of the rounds above.
expect_row() {
  local line
  line=$(ratio_row "case" "$1" e r)
  local achieved range verdict
  achieved=$(cut -d'|' -f6 <<<"$line" | tr -d ' *')
  range=$(cut -d'|' -f7 <<<"$line" | tr -d ' ')
  verdict=$(cut -d'|' -f8 <<<"$line" | sed 's/^ *//; s/ *$//')
  if [[ $achieved != "$2" || $range != "$3" || $verdict != "$4" ]]; then
    echo "FAIL target '$1': got achieved '$achieved', range '$range', verdict '$verdict'; want '$2', '$3', '$4'" >&2
    echo "  row: $line" >&2
    failures=$((failures + 1))
  fi
}

# Every round at 95% of a 90% target: met.
rounds e r "95 100" "190 200" "95 100" "950 1000" "95 100"
expect_row "≥ 90%" "95%" "95–95%" "met"
# Every round at 80%: not met.
rounds e r "80 100" "80 100" "80 100" "80 100" "80 100"
expect_row "≥ 90%" "80%" "80–80%" "not met"
# The target inside the middle half of the rounds (88% to 93%): within noise.
rounds e r "85 100" "88 100" "91 100" "93 100" "95 100"
expect_row "≥ 90%" "91%" "88–93%" "within noise"
# A lower quartile of 89.6% prints as 89 and is judged as printed: not met for 90.
rounds e r "89.6 100" "89.6 100" "89.6 100" "89.6 100" "89.6 100"
expect_row "≥ 90%" "90%" "89–89%" "not met"
# Paired by round, not a ratio of medians: the reference was fast in the engine's fast
# rounds, so each round's own ratio is 50%, whatever the medians of each side say.
rounds e r "50 100" "100 200" "150 300" "200 400" "250 500" "300 600" "350 700"
expect_row "≥ 40%" "50%" "50–50%" "met"
# Three rounds decide nothing, whatever they show.
rounds e r "95 100" "95 100" "95 100"
expect_row "≥ 90%" "95%" "95–95%" "undecided (3 of at least 5 rounds)"
# An aim is judged like a target; a dash has no verdict.
rounds e r "12 100" "11 100" "10 100" "12 100" "11 100"
expect_row "aim ≥ 50%" "11%" "11–12%" "not met"
expect_row "—" "11%" "11–12%" ""
# A round whose reference is missing is left out of the pairs, not paired with another's.
: >"$results"
for round in 1 2 3 4 5; do echo "$round e 90" >>"$results"; done
for round in 1 2 3 4; do echo "$round r 100" >>"$results"; done
expect_row "≥ 80%" "90%" "90–90%" "undecided (4 of at least 5 rounds)"

if ((failures > 0)); then
  echo "$failures case(s) failed" >&2
  exit 1
fi
echo "ratio_table: all cases passed"
