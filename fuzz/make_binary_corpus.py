#!/usr/bin/env python3
"""Writes the seed corpora that come from the cachestress binary itself:

  fuzz/corpus/report_reader/  real reports the binary writes (a single run, a sweep with
                              --repeat, the process backend, a failing run, a deadlock), and
                              each single run rewritten as the schema_version 1 layout compare
                              and report still read;
  fuzz/corpus/command_line/   argv (NUL-separated, program name left out): every flag of
                              `cachestress --help` with a sample value, every subcommand, and
                              the example command lines of the docs.

Idempotent (same names each time). Run it again after adding a flag or changing the report:
  python3 fuzz/make_binary_corpus.py build/dev/cachestress
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

here = pathlib.Path(__file__).resolve().parent
binary = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else here.parent / "build/dev/cachestress").resolve()


def run(args, check=True):
    return subprocess.run([str(binary), *args], capture_output=True, text=True, check=check)


# --- report_reader: real reports -------------------------------------------------------
reports = here / "corpus" / "report_reader"
reports.mkdir(parents=True, exist_ok=True)
RUNS = {
    "locked": ["--scenario", "locked", "--builds", "6"],
    "shared-sweep-repeat": ["--scenario", "shared", "--builds", "4", "--sweep", "concurrency=1,2", "--repeat", "2"],
    "process-backend": ["--scenario", "locked", "--builds", "3", "--backend", "process"],
    "mixed-modes": ["--scenario", "mixed-modes", "--builds", "6"],
    "shared-collisions": ["--scenario", "shared", "--builds", "8"],
    "abba-deadlock": ["--scenario", "abba", "--builds", "4", "--lock-timeout", "1"],
}
with tempfile.TemporaryDirectory() as tmp:
    for name, args in RUNS.items():
        out = pathlib.Path(tmp) / (name + ".json")
        done = run([*args, "-q", "--out", str(out)], check=False)
        if done.returncode not in (0, 1):  # 1: an expectation failed, still a report
            sys.exit(f"{name}: cachestress exited {done.returncode}: {done.stderr}")
        document = json.loads(out.read_text())
        (reports / (name + ".json")).write_text(json.dumps(document, indent=2) + "\n")
        # The version 1 layout of a single run: the run at the top level, no cells.
        cells = document.get("cells", [])
        if len(cells) == 1 and not document.get("sweep", {}).get("keys"):
            v1 = {k: v for k, v in document.items() if k not in ("cells", "sweep", "aggregates")}
            v1.update({k: v for k, v in cells[0].items() if k not in ("index", "repeat", "values")})
            v1["schema_version"] = 1
            (reports / (name + "-v1.json")).write_text(json.dumps(v1, indent=2) + "\n")

# --- command_line: argv ------------------------------------------------------------------
argvs = here / "corpus" / "command_line"
argvs.mkdir(parents=True, exist_ok=True)
SAMPLE = {"INT": "4", "UINT": "2", "SECONDS": "1.5", "NUMBER": "2.5", "DURATION": "500ms", "TEXT": "x.json"}
FLAG_VALUE = {"--sweep": "concurrency=1,2", "--scenario": "shared", "--format": "json,csv", "--min-effect": "10%",
              "--inconclusive": "pass", "--out": "x.json"}
seeds = {}
for sub in ["", "run", "compare", "report", "show", "list"]:
    text = run([*( [sub] if sub else []), "--help"]).stdout
    for flag, kind, rest in re.findall(r"^\s+(?:-\w,)?(--[\w-]+)(?:,--[\w-]+)?\s+([A-Z:]+)?(.*)$", text, re.M):
        if flag in ("--help", "--version"):
            continue
        value = []
        if kind:
            # "help: first, second" or "help: first (what it does) | second ..."
            choice = re.search(r":\s*([a-z][\w.-]*)(?:,|\s*\(|\s*\|)", rest) if kind == "CHOICE" else None
            value = [FLAG_VALUE.get(flag) or (choice.group(1) if choice else SAMPLE.get(kind.split(":")[0], "1"))]
        prefix = [sub] if sub else []
        seeds[f"flag-{sub or 'top'}{flag}"] = [*prefix, *(["--scenario", "locked"] if sub in ("", "run") else []),
                                                flag, *value]
seeds.update({
    "help": ["--help"], "help-all": ["--help-all"], "version": ["--version"], "list": ["list"],
    "show-locked": ["show", "locked"], "run-locked": ["run", "--scenario", "locked"],
    "sweep-two-axes": ["--scenario", "shared", "--sweep", "concurrency=1,2,4", "--sweep", "sharing=locked,shared",
                       "--repeat", "3", "--warmup", "1"],
    "formats": ["--scenario", "locked", "--format", "json,csv", "--format", "md", "--out", "r.json"],
    "compare-all": ["compare", "a.json", "b.json", "--alpha", "0.01", "--min-effect", "5%", "--inconclusive", "fail",
                    "--format", "md", "--force"],
    "report-two": ["report", "a.json", "b.json", "-o", "r.html"],
    "worker": ["worker", "--event-fd", "4"],
    "verbose-quiet": ["--scenario", "locked", "-vv", "-q"],
    "unknown-flag": ["--no-such-flag"],
    "two-subcommands": ["list", "show", "locked"],
})
for name, args in seeds.items():
    safe = re.sub(r"[^\w.-]", "_", name)
    (argvs / safe).write_bytes(b"\0".join(a.encode() for a in args))

# --- dictionaries: the words each parser looks for ------------------------------------
words = set()
for sub in ["", "run", "compare", "report", "show"]:
    text = run([*([sub] if sub else []), "--help"]).stdout
    words.update(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text))
    words.update(re.findall(r"^  ([a-z]+) {3,}", text, re.M))  # subcommands
    for choices in re.findall(r"CHOICE\s+[^:]*:\s*(.*)", text):
        words.update(w for w in re.findall(r"[a-z][\w.-]*", choices) if len(w) > 2)
words.update(["=", ",", "%", "ms", "s", "m", "h", "1e9", "-1", "0x10", "nan", "inf"])
(here / "command_line.dict").write_text(
    "# cachestress flags, subcommands and choice values (written by make_binary_corpus.py)\n" +
    "".join(f'"{w}"\n' for w in sorted(words)))

keys = set()
def collect(node):
    if isinstance(node, dict):
        for k, v in node.get("properties", {}).items():
            keys.add(k)
        for v in node.values():
            collect(v)
    elif isinstance(node, list):
        for v in node:
            collect(v)
collect(json.loads((here.parent / "results" / "schema.json").read_text()))
(here / "report_reader.dict").write_text(
    "# report field names from results/schema.json (written by make_binary_corpus.py)\n" +
    "".join(f'"\\"{k}\\":"\n' for k in sorted(keys)) +
    "".join(f'"{t}"\n' for t in ["cachestress", "schema_version", "{}", "[]", "null", "true", "1e308", "-0", "1.5"]))

print(f"{len(list(reports.iterdir()))} report seeds, {len(list(argvs.iterdir()))} argv seeds")
