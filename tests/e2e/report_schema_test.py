#!/usr/bin/env python3
"""Every report cachestress writes validates against results/schema.json.

Runs every catalogue scenario (short: few builds, a duration cap), a sweep with --repeat,
and `compare --format json`, writing every --format; validates each JSON report against
results/schema.json, the compare output against results/compare.schema.json, the BMF and
Google Benchmark exports against the documented shapes in tests/fixtures/, and finally any
report the Catch2 end-to-end tests left in --collected.

Exit 0 all valid, 1 something invalid, 77 (ctest SKIP_RETURN_CODE) when python3-jsonschema
is not installed: the test is then reported as skipped, never as passed.
"""
import argparse
import csv
import glob
import io
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (apt-get install python3-jsonschema)")
    sys.exit(77)

failures = []


def fail(what):
    failures.append(what)
    print("FAIL:", what)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def validator(schema_path):
    schema = load(schema_path)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_schema(v, document, label):
    errors = sorted(v.iter_errors(document), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        fail(f"{label}: /{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}")
    return not errors


def runs_of(report):
    return report["cells"] if "cells" in report else [report]


def check_semantics(report, label):
    """What a JSON Schema cannot say: ordered CDFs, counters that add up."""
    for i, run in enumerate(runs_of(report)):
        s = run["summary"]
        c = s["collisions"]
        if c["total"] != c["foreign"] + c["missing"] + c["torn"] + c["lock_overlap"]:
            fail(f"{label}: run {i}: collisions.total is not the sum of its kinds")
        for name in ("lock_wait_us", "lock_hold_us", "step_latency_us", "build_latency_us"):
            h = s[name]
            if h["count"] and not (h["p50"] <= h["p90"] <= h["p99"] <= h["p999"]):
                fail(f"{label}: run {i}: {name} percentiles are not ordered")
            cdf = h.get("cdf", [])
            if any(a[0] > b[0] or a[1] > b[1] for a, b in zip(cdf, cdf[1:])):
                fail(f"{label}: run {i}: {name}.cdf is not ascending")


# --- the documented shapes of the dashboard formats ------------------------------------

def bmf_problems(doc):
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value?, upper_value?}}}."""
    if not isinstance(doc, dict) or not doc:
        return ["root is not a non-empty object"]
    problems = []
    for bench, measures in doc.items():
        if not bench or not isinstance(measures, dict) or not measures:
            problems.append(f"{bench!r}: not an object of measures")
            continue
        for slug, metric in measures.items():
            if len(slug) > 64:
                problems.append(f"{bench}/{slug}: measure slug longer than 64 characters")
            if not isinstance(metric, dict) or "value" not in metric:
                problems.append(f"{bench}/{slug}: no value")
                continue
            for key, value in metric.items():
                if key not in ("value", "lower_value", "upper_value"):
                    problems.append(f"{bench}/{slug}: unknown key {key}")
                elif isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"{bench}/{slug}.{key}: not a number")
            if "lower_value" in metric and "upper_value" in metric and \
                    not metric["lower_value"] <= metric["value"] <= metric["upper_value"]:
                problems.append(f"{bench}/{slug}: value outside [lower_value, upper_value]")
    return problems


GBENCH_TIME_UNITS = {"ns", "us", "ms", "s"}


def gbench_problems(doc):
    """What Google Benchmark's tools/gbench (util.check_benchmark_results, sort_benchmark_results,
    report.partition_benchmarks) and github-action-benchmark's googlecpp reader rely on."""
    problems = []
    if not isinstance(doc, dict):
        return ["root is not an object"]
    ctx = doc.get("context")
    if not isinstance(ctx, dict):
        problems.append("context is not an object")
    elif ctx.get("json_schema_version", 1) != 1:
        problems.append("context.json_schema_version is not 1")
    runs = doc.get("benchmarks")
    if not isinstance(runs, list) or not runs:
        return problems + ["benchmarks is not a non-empty array"]
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or not isinstance(run.get("name"), str):
            problems.append(f"benchmarks[{i}]: no string name")
            continue
        if run.get("error_occurred"):
            continue
        for key in ("real_time", "cpu_time"):
            if isinstance(run.get(key), bool) or not isinstance(run.get(key), (int, float)):
                problems.append(f"benchmarks[{i}].{key}: not a number")
        if run.get("time_unit") not in GBENCH_TIME_UNITS:
            problems.append(f"benchmarks[{i}].time_unit: not one of {sorted(GBENCH_TIME_UNITS)}")
        for key in ("iterations", "threads", "repetitions", "repetition_index", "family_index",
                    "per_family_instance_index"):
            if not isinstance(run.get(key), int) or isinstance(run.get(key), bool):
                problems.append(f"benchmarks[{i}].{key}: not an integer")
        if run.get("run_type") not in ("iteration", "aggregate"):
            problems.append(f"benchmarks[{i}].run_type: not iteration or aggregate")
        if run.get("run_type") == "aggregate" and not isinstance(run.get("aggregate_name"), str):
            problems.append(f"benchmarks[{i}]: an aggregate without aggregate_name")
    # Repetitions of one name: repetition_index 0..repetitions-1, as compare.py's U test groups them.
    by_name = {}
    for run in runs:
        if isinstance(run, dict) and run.get("run_type") == "iteration":
            by_name.setdefault(run["name"], []).append(run)
    for name, group in by_name.items():
        if sorted(r.get("repetition_index") for r in group) != list(range(len(group))) or \
                any(r.get("repetitions") != len(group) for r in group):
            problems.append(f"{name}: repetition_index/repetitions do not number its {len(group)} runs")
    return problems


def same_types(fixture_entry, ours, label):
    """Every key of the documented entry is in ours, with the same JSON type."""
    def kind(v):
        return "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
    for key, value in fixture_entry.items():
        if key not in ours:
            fail(f"{label}: key {key} of the documented shape is missing")
        elif kind(ours[key]) != kind(value):
            fail(f"{label}: {key} is {kind(ours[key])}, the documented shape has {kind(value)}")


def check_exports(report_path, report, fixtures):
    stem = report_path[:-len(".json")]
    rows = runs_of(report)
    with open(stem + ".csv", newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    if len(table) != len(rows) + 1 or any(len(r) != len(table[0]) for r in table):
        fail(f"{stem}.csv: expected a header and {len(rows)} rows of equal width")
    with open(stem + ".md", encoding="utf-8") as f:
        md = f.read()
    if md.count("\n|") < len(rows) + 1:
        fail(f"{stem}.md: expected a table row per run")
    bmf = load(stem + ".bmf.json")
    for p in bmf_problems(bmf):
        fail(f"{stem}.bmf.json: {p}")
    gb = load(stem + ".gbench.json")
    for p in gbench_problems(gb):
        fail(f"{stem}.gbench.json: {p}")
    if len(gb.get("benchmarks", [])) != len(rows):
        fail(f"{stem}.gbench.json: expected one benchmark entry per run")
    documented = fixtures["gbench"]
    same_types({k: v for k, v in documented["context"].items() if k not in ("load_avg",)},
               gb["context"], f"{stem}.gbench.json context")
    for i, entry in enumerate(gb["benchmarks"]):
        if not entry.get("error_occurred"):
            same_types({k: v for k, v in documented["benchmarks"][0].items() if k != "bytes"}, entry,
                       f"{stem}.gbench.json benchmarks[{i}]")


def run(cmd, env, ok_codes=(0, 1)):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode not in ok_codes:
        fail(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--collected", help="directory of reports copied by the Catch2 e2e tests")
    args = ap.parse_args()

    report_v = validator(os.path.join(args.source_dir, "results/schema.json"))
    compare_v = validator(os.path.join(args.source_dir, "results/compare.schema.json"))
    fixtures = {name: load(os.path.join(args.source_dir, f"tests/fixtures/{name}_documented.json"))
                for name in ("bmf", "gbench")}
    # The checkers accept the documented shapes themselves (else they would prove nothing).
    for p in bmf_problems(fixtures["bmf"]) + gbench_problems(fixtures["gbench"]):
        fail(f"documented fixture rejected by our own checker: {p}")
    # ... and reject what the documented readers reject.
    for bad in ({"benchmarks": [{"name": "x", "real_time": "fast", "cpu_time": 1, "time_unit": "ns"}]},
                {"context": {}, "benchmarks": [{"name": "x", "real_time": 1, "cpu_time": 1, "time_unit": "hours"}]}):
        if not gbench_problems(bad):
            fail(f"gbench checker accepts {bad}")
    if not bmf_problems({"b": {"latency": {"lower_value": 1}}}):
        fail("bmf checker accepts a metric without value")

    with tempfile.TemporaryDirectory(prefix="cachestress-schema-") as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        scenarios = [line.split()[0] for line in run([args.binary, "list"], env, (0,)).stdout.splitlines() if line.strip()]
        if len(scenarios) < 10:
            fail(f"cachestress list named only {scenarios}")
        written = []
        for name in scenarios:
            out = os.path.join(tmp, f"{name}.json")
            # Real-daemon scenarios (label real) run their same builds simulated here.
            simulated = ["--backend", "inproc"] if name.startswith(("podman-", "buildkit-")) else []
            # A scenario that needs a capability (mounting a tmpfs, a real tool that works here)
            # may stop with exit 3, the environment error naming why: skipped, said, not failed.
            shown = run([args.binary, "show", name], env, (0,)).stdout
            needs_capability = (not simulated and 'backend = "command"' in shown) or "enospc_tmpfs_kb" in shown
            p = run([args.binary, "--scenario", name, "--builds", "12", "--duration", "2", "--concurrency", "4",
                     "--lock-timeout", "2", "--out", out, "--format", "json,csv,md,bmf,gbench", "-q"] + simulated, env,
                    (0, 1, 3) if needs_capability else (0, 1))
            if p.returncode == 3:
                reason = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "no message"
                print(f"SKIP scenario {name}: cannot run in this environment: {reason[:300]}")
                continue
            written.append(out)
        sweep = os.path.join(tmp, "sweep.json")
        run([args.binary, "--scenario", "convoy", "--builds", "6", "--sweep", "concurrency=1,2",
             "--sweep", "sharing=shared,locked", "--repeat", "2", "--out", sweep, "--format", "csv,md,bmf,gbench", "-q"], env)
        written.append(sweep)

        for path in written:
            if not os.path.exists(path):
                fail(f"{path}: not written")
                continue
            report = load(path)
            if check_schema(report_v, report, os.path.basename(path)):
                check_semantics(report, os.path.basename(path))
            check_exports(path, report, fixtures)
        # The schema is not a rubber stamp: broken copies of a real report are rejected.
        if written and os.path.exists(written[0]):
            report = load(written[0])
            for what, breaks in (("no builds.completed", lambda d: d["cells"][0]["summary"]["builds"].pop("completed")),
                                 ("a count as text", lambda d: d["cells"][0]["summary"]["collisions"].update(total="0")),
                                 ("an unknown histogram statistic", lambda d: d["cells"][0]["summary"]["lock_hold_us"].update(p75=1)),
                                 ("schema_version 3", lambda d: d.update(schema_version=3))):
                broken = json.loads(json.dumps(report))
                breaks(broken)
                if report_v.is_valid(broken):
                    fail(f"the schema accepts a report with {what}")
            # A report from before the fields added within version 2 still validates.
            first_v2 = json.loads(json.dumps(report))
            for cell in first_v2["cells"]:
                cell["summary"].pop("failed_build_latency_us", None)
                cell.pop("not_measured", None)
                cell.pop("expectations_skipped", None)
            check_schema(report_v, first_v2, "a report without the fields added within version 2")
        if os.path.exists(sweep) and len(load(sweep).get("cells", [])) != 8:
            fail("sweep.json: expected 8 cells (2 x 2 values x 2 repeats)")

        # compare --format json: a sweep with itself (2 runs a side: inconclusive), a single run with itself.
        for base, new, code in ((sweep, sweep, 4), (os.path.join(tmp, "locked.json"), os.path.join(tmp, "locked.json"), 0)):
            p = run([args.binary, "compare", base, new, "--format", "json"], env, (code,))
            try:
                check_schema(compare_v, json.loads(p.stdout), f"compare {os.path.basename(base)} {os.path.basename(new)}")
            except json.JSONDecodeError as e:
                fail(f"compare --format json printed no JSON: {e}")
        print(f"validated {len(written)} reports of {len(scenarios)} catalogue scenarios and a sweep, their exports, "
              "and compare output")

    # Reports the Catch2 e2e tests wrote with --out (copied there by tests/e2e/run_binary.cpp);
    # only those newer than the binary, so a changed schema is never judged on stale files.
    if args.collected and os.path.isdir(args.collected):
        built = os.path.getmtime(args.binary)
        collected = [p for p in glob.glob(os.path.join(args.collected, "*.json")) if os.path.getmtime(p) >= built]
        for path in collected:
            try:
                report = load(path)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a test that writes garbage on purpose
            if check_schema(report_v, report, "e2e " + os.path.basename(path)):
                check_semantics(report, "e2e " + os.path.basename(path))
        print(f"validated {len(collected)} reports written by the Catch2 e2e tests")

    if failures:
        print(f"{len(failures)} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
