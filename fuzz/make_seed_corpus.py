#!/usr/bin/env python3
"""Writes fuzz/corpus/scenario_parser/: every built-in scenario, the annotated example of
scenarios/README.md, and hand-made edge cases (hostile ids and names, limits, every syntax
form the loader accepts). Idempotent; run it again after adding a built-in scenario."""
import pathlib
import re

here = pathlib.Path(__file__).resolve().parent
repo = here.parent
out = here / "corpus" / "scenario_parser"
out.mkdir(parents=True, exist_ok=True)

seeds = {}
for path in sorted((repo / "scenarios").glob("*.toml")):
    seeds["builtin-" + path.stem] = path.read_text()
readme = (repo / "scenarios" / "README.md").read_text()
example = re.search(r"```toml\n(.*?)```", readme, re.S)
if example:
    seeds["readme-example"] = example.group(1)

HEAD = 'description = "edge case"\n'


def step(mount, ops):
    return HEAD + '[[build]]\nname = "b"\n[[build.step]]\n' + mount + "\n" + ops + "\n"


WRITE = 'ops = [ { op = "write", file = "f" } ]'
seeds.update({
    "minimal-hold-only": HEAD + '[[build]]\nname = "h"\n[[build.step]]\nops = [ { op = "hold", ms = 1 } ]\n',
    "id-dotdot": step('mount = { target = "/cache", id = "../..", sharing = "locked" }', WRITE),
    "id-absolute": step('mount = { target = "/cache", id = "/etc" }', WRITE),
    "id-nul": step('mount = { target = "/cache", id = "a\\u0000b" }', WRITE),
    "id-long": step('mount = { target = "/cache", id = "' + "x" * 5000 + '" }', WRITE),
    "id-long-component": step('mount = { target = "/cache", id = "a/' + "y" * 256 + '/b" }', WRITE),
    "id-unicode": step('mount = { target = "/cache", id = "café/ключ/鍵/🗝" }', WRITE),
    "id-empty-components": step('mount = { target = "/cache/", id = "a//./b/" }', WRITE),
    "target-dotdot": step('mount = { target = "/cache/../../etc" }', WRITE),
    "target-root": step('mount = { target = "/" }', WRITE),
    "target-relative": step('mount = { target = "cache" }', WRITE),
    "file-dotdot": step('mount = { target = "/cache" }', 'ops = [ { op = "delete", file = "../../victim" } ]'),
    "file-absolute": step('mount = { target = "/cache" }', 'ops = [ { op = "write", file = "/etc/passwd" } ]'),
    "file-nul": step('mount = { target = "/cache" }', 'ops = [ { op = "append", file = "a\\u0000/b" } ]'),
    "file-unicode": step('mount = { target = "/cache" }', 'ops = [ { op = "read", file = "dir/\u00e9t\u00e9\u200b", expect = "absent" } ]'),
    "value-control": step('mount = { target = "/cache" }', 'ops = [ { op = "write", file = "f", value = "a\\tb\\u007f" } ]'),
    "builds-huge": HEAD + "[run]\nbuilds = 1000000000\nconcurrency = 10000000\n" + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "int-limits": HEAD + "[run]\nbuilds = 9223372036854775807\nseed = -9223372036854775808\n" + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "floats": HEAD + "[run]\nbuilds = 0\nduration = inf\nrate = nan\nramp = 1e308\n" + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "duration-only": HEAD + '[run]\nbuilds = 0\nduration = 0.5\narrival = "ramp"\nramp = 0.1\n' + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "poisson": HEAD + '[run]\narrival = "poisson"\nrate = 1e6\nisolation = "per-group:100000"\n' + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "op-tables": HEAD + '[[build]]\nname = "b"\n[[build.step]]\n[[build.step.mount]]\ntarget = "/a"\n'
                 '[[build.step.mount]]\ntarget = "/b"\nsharing = "private"\n[[build.step.op]]\nop = "list"\nmount = 1\n'
                 '[[build.step.op]]\nop = "write"\nfile = "x"\nchunk = 67108864\nsize = 67108864\n',
    "ops-and-op": step('mount = { target = "/c" }', WRITE + '\n[[build.step.op]]\nop = "hold"'),
    "op-index-out-of-range": step('mount = { target = "/c" }', 'ops = [ { op = "write", file = "f", mount = 4294967295 } ]'),
    "op-wrong-key": step('mount = { target = "/c" }', 'ops = [ { op = "write", file = "f", expect = "own" } ]'),
    "expect-conditions": HEAD + step('mount = { target = "/c" }', WRITE)[len(HEAD):] +
        '[expect]\n"collisions.total" = 0\n"summary.builds.failed" = "<= 1e-3"\n'
        '[expect."isolation=per-group"]\n"collisions.foreign" = ">0"\n'
        '[expect."semantics=buildah-1.28"]\n"lock_wait_us.p99" = 1.5e300\n',
    "expect-duplicate": HEAD + step('mount = { target = "/c" }', WRITE)[len(HEAD):] +
        '[expect]\n"collisions.total" = 0\n"summary.collisions.total" = 1\n',
    "expect-unquoted": HEAD + step('mount = { target = "/c" }', WRITE)[len(HEAD):] + '[expect]\ncollisions.total = 0\n',
    "duplicate-build": HEAD + '[[build]]\nname = "b"\n[[build.step]]\nops = [{op="hold"}]\n' * 2,
    "strings": 'description = """multi\nline"""\n' + step("mount = { target = '/lit\\eral' }", WRITE)[len(HEAD):],
    "dates": HEAD + "[run]\nseed = 1979-05-27T07:32:00Z\n" + step('mount = { target = "/c" }', WRITE)[len(HEAD):],
    "nesting-64": HEAD + "x = " + "[" * 64 + "]" * 64 + "\n",
    "nesting-65": HEAD + "x = " + "{a=" * 65 + "1" + "}" * 65 + "\n",
    "dotted-16": HEAD + "a" + ".a" * 16 + " = 1\n",
    "syntax-error": HEAD + "[[build]\nname = \n",
    "crlf": step('mount = { target = "/c" }', WRITE).replace("\n", "\r\n"),
    "bom": "\ufeff" + step('mount = { target = "/c" }', WRITE),
})

for name, text in seeds.items():
    (out / (name + ".toml")).write_bytes(text.encode("utf-8"))
# Bytes that are not UTF-8 text at all.
(out / "invalid-utf8.toml").write_bytes(HEAD.encode() + b'x = "\xc3\x28\xed\xa0\x80"\n')
(out / "nul-byte.toml").write_bytes(HEAD.encode() + b"x = 1\x00\n")
print(f"{len(seeds) + 2} seeds in {out.relative_to(repo)}")
