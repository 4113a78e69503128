# shellcheck shell=bash disable=SC2154  # $results is set by the sourcing script
# The table bench/ratios.sh prints, apart from the measuring: sourced, with $results naming
# a file of "ROUND NAME VALUE" lines (one per measurement, every name once per round).
# tests/bench/ratio_table_test.sh checks the verdicts on made-up rounds.

# Median of one measurement over the rounds.
ratio_median() {
  awk -v name="$1" '$2 == name { print $3 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# The ratio of two measurements taken in the same round, one line per round, as a percentage.
ratio_pairs() {
  awk -v a="$1" -v b="$2" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
    END { for (r in x) if ((r in y) && y[r] > 0) printf "%.4f\n", 100 * x[r] / y[r] }' "$results" | sort -g
}
# One table row: label, target ("≥ N%", "aim ≥ N%" or "—"), numerator name, denominator name.
# Achieved is the median of the rounds' own ratios (each pair ran side by side), with their
# interquartile range (each quartile cut to a whole percent, as printed and as judged).
# Verdict: met when even the lower quartile reaches the target, not met when even the upper
# quartile falls short, else within noise (more rounds, or a quieter machine, will decide).
# Fewer than 5 rounds decide nothing.
ratio_row() {
  ratio_pairs "$3" "$4" | awk -v label="$1" -v target="$2" -v a="$(ratio_median "$3")" -v b="$(ratio_median "$4")" '
    function at(q,  i) { i = int(q * (NR - 1) + 1.5); return int(v[i < 1 ? 1 : (i > NR ? NR : i)]) }
    { v[NR] = $1 }
    END {
      if (NR == 0) { printf "| %s | %s | %.0f | %.0f | no paired rounds | | |\n", label, target, a, b; exit }
      mid = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      verdict = ""
      if (match(target, /[0-9]+%/)) {
        goal = substr(target, RSTART, RLENGTH - 1) + 0
        verdict = at(0.25) >= goal ? "met" : (at(0.75) < goal ? "not met" : "within noise")
        if (NR < 5) verdict = "undecided (" NR " of at least 5 rounds)"
      }
      printf "| %s | %s | %.0f | %.0f | **%.0f%%** | %d–%d%% | %s |\n", label, target, a, b, mid, at(0.25), at(0.75), verdict
    }'
}
