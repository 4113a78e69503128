#!/usr/bin/env python3
"""cachestress-mpi end to end (label mpi): real mpirun, real ranks, real files and locks.

usage: mpi_e2e_test.py CACHESTRESS_MPI CASE
Cases: locked-4-ranks, process-backend, two-hosts, lost-rank-killed, lost-rank-hung, workdir-not-shared.
Exits 77 (skipped, with the reason) where mpirun is missing or a case needs root it lacks.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--mca", "plm", "isolated",
          "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
          "--mca", "rtc", "^hwloc"]


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def run(cmd, timeout=300, **kw):
    print("+", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    proc.elapsed = time.monotonic() - started
    print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", flush=True)
    return proc


def load(path):
    with open(path) as f:
        return json.load(f)


def ranks_pids(binary):
    """pid -> rank of every running cachestress-mpi rank."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if not argv or os.path.basename(argv[0].decode()) != os.path.basename(binary):
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            found[int(pid)] = int(env.get(b"OMPI_COMM_WORLD_RANK", b"-1"))
        except (OSError, ValueError):
            continue
    return found


def case_locked_4_ranks(binary, tmp):
    out = os.path.join(tmp, "r.json")
    workdir = os.path.join(tmp, "shared")
    p = run(MPIRUN + ["-n", "4", binary, "--scenario", "locked", "--builds", "80", "--concurrency", "4",
                      "--workdir", workdir, "--out", out, "-q"])
    if p.returncode != 0:
        fail(f"exit {p.returncode}")
    doc = load(out)
    cell = doc["cells"][0] if "cells" in doc else doc
    s = cell["summary"]
    if s["builds"]["completed"] != 80:
        fail(f"completed {s['builds']['completed']} != 80 (the total over ranks)")
    if s["collisions"]["lock_overlap"] != 0:
        fail("lock_overlap under sharing=locked across ranks")
    hosts = cell["hosts"]
    if sorted(h["rank"] for h in hosts) != [0, 1, 2, 3]:
        fail(f"hosts lists ranks {[h['rank'] for h in hosts]}")
    if sum(h["builds_completed"] for h in hosts) != 80:
        fail("per-rank builds do not add up to the total")
    # The merged histogram is the sum of the ranks' histograms, bucket by bucket.
    acquisitions = sum(h["lock_acquisitions"] for h in hosts)
    if s["lock_wait_us"]["count"] != acquisitions or acquisitions != s["locks"]["acquired"]:
        fail(f"merged lock_wait_us.count {s['lock_wait_us']['count']} != sum over ranks {acquisitions}")
    if cell["mpi"]["ranks"] != 4 or cell["mpi"]["concurrency_per_rank"] != 4:
        fail(f"mpi section {cell['mpi']}")
    builds = {e["build"] for e in cell["lock_events"]}
    if not all(e["rank"] == e["build"] % 4 for e in cell["lock_events"]) or len({b % 4 for b in builds}) != 4:
        fail("lock events do not name the rank of their build")
    # One timeline: each rank's lock events moved by its measured clock offset. Real locks
    # exclude, so no two holds overlap (beyond what the offset measurement allows).
    slack = max(h["clock_uncertainty_us"] for h in hosts) / 1e6 + 0.0002
    held = sorted((e for e in cell["lock_events"] if e["granted_s"] is not None), key=lambda e: e["granted_s"])
    for a, b in zip(held, held[1:]):
        if a["released_s"] is not None and a["released_s"] > b["granted_s"] + slack:
            fail(f"merged timeline shows builds {a['build']} (rank {a['rank']}) and {b['build']} (rank {b['rank']}) "
                 "holding one lock together")
    if os.path.exists(workdir) and os.listdir(workdir):
        fail(f"workspace left behind: {os.listdir(workdir)}")
    # The single-host tools read it: compare (against itself: no change) and the HTML report.
    single = os.path.join(os.path.dirname(binary), "cachestress")
    if os.access(single, os.X_OK):
        c = run([single, "compare", out, out])
        if c.returncode != 0:
            fail(f"cachestress compare on the merged report: exit {c.returncode}")
        page = os.path.join(tmp, "r.html")
        h = run([single, "report", out, "-o", page])
        if h.returncode != 0:
            fail(f"cachestress report on the merged report: exit {h.returncode}")
        with open(page) as f:
            html = f.read()
        if 'id="hosts"' not in html:
            fail("the HTML report has no per-host view")
        rows = html.split('id="hosts"')[1].split("</section>")[0].count("<tr><td>")
        if rows != 4:
            fail(f"the per-host view has {rows} rows, expected one per rank (4)")
    print("PASS: 4 ranks, 80 builds, no overlap, hosts lists every rank; compare and report read it")


def case_process_backend(binary, tmp):
    """--backend process under mpirun: each rank's fork server and workers are this same binary
    run as `worker`, which must not try to join the MPI job (it used to fail in MPI_Init)."""
    out = os.path.join(tmp, "p.json")
    workdir = os.path.join(tmp, "shared")
    p = run(MPIRUN + ["-n", "2", binary, "--scenario", "locked", "--backend", "process", "--builds", "24",
                      "--concurrency", "3", "--workdir", workdir, "--out", out, "-q"])
    if p.returncode != 0:
        fail(f"exit {p.returncode}")
    cell = load(out)["cells"][0]
    s = cell["summary"]
    if s["builds"]["completed"] != 24 or s["builds"]["failed"] != 0:
        fail(f"builds {s['builds']}, expected 24 completed over 2 ranks")
    if s["collisions"]["lock_overlap"] != 0:
        fail("lock_overlap under sharing=locked across ranks' worker processes")
    if s["worker_start_us"]["count"] != 24:
        fail(f"worker_start_us.count {s['worker_start_us']['count']}: not one worker process per build")
    if not isinstance(cell["mpi"]["cross_host_lock_overlap"], int):
        fail(f"cross_host_lock_overlap {cell['mpi']['cross_host_lock_overlap']!r}: the process backend measures it")
    if "cache.mounts_overlapped" not in cell.get("not_measured", []):
        fail(f"not_measured {cell.get('not_measured')} does not list what the process backend never measures")
    if os.path.exists(workdir) and os.listdir(workdir):
        fail(f"workspace left behind: {os.listdir(workdir)}")
    print("PASS: 2 ranks of worker processes, 24 builds, no overlap, not_measured carried to the merged report")


def case_workdir_not_shared(binary, tmp):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        skip("needs root and unshare to hide the workdir from one rank")
    # unshare -m makes / private in the new namespace, which fails where / is not a mount
    # point (a chroot): the workdir cannot be hidden from one rank there.
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip("cannot make a private mount namespace here (unshare -m: " + probe.stderr.strip() + ")")
    workdir = os.path.join(tmp, "ws")
    os.makedirs(workdir)
    # Rank 1 sees its own empty tmpfs over the workdir's parent: not one filesystem.
    wrapper = os.path.join(tmp, "rank.sh")
    with open(wrapper, "w") as f:
        f.write(f"""#!/bin/sh
if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
  exec unshare -m sh -c 'mount -t tmpfs none {tmp} && mkdir {workdir} && exec "$0" "$@"' "$@"
fi
exec "$@"
""")
    os.chmod(wrapper, 0o755)
    p = run(MPIRUN + ["-n", "2", wrapper, binary, "--scenario", "locked", "--builds", "4", "--workdir", workdir])
    if p.returncode != 3:
        fail(f"exit {p.returncode}, expected 3")
    if "rank 1 on" not in p.stderr or "must be one filesystem that every rank sees" not in p.stderr:
        fail("the error does not name the rank that could not see the workdir")
    print("PASS: exit 3 naming rank 1")


def case_mismatched_arguments(binary, tmp):
    # mpirun's MPMD form starts ranks with other command lines: they were merged into one
    # report under rank 0's title (rank 1's shared writes failed rank 0's locked run).
    out = os.path.join(tmp, "r.json")
    common = ["--builds", "4", "--out", out]
    p = run(MPIRUN + ["-n", "1", binary, "--scenario", "locked"] + common +
            [":", "-n", "1", binary, "--scenario", "shared"] + common)
    if p.returncode != 2:
        fail(f"exit {p.returncode}, expected 2")
    if "rank 1 on" not in p.stderr or "other arguments than rank 0" not in p.stderr:
        fail("the error does not name the rank started with other arguments")
    if os.path.exists(out):
        fail("a report was written")
    # Only --workdir may differ (one shared filesystem mounted elsewhere on each host).
    ws = os.path.join(tmp, "ws")
    p = run(MPIRUN + ["-n", "1", binary, "--scenario", "locked", "--workdir", ws] + common +
            [":", "-n", "1", binary, "--scenario", "locked", "--workdir", ws + "/"] + common)
    if p.returncode != 0:
        fail(f"exit {p.returncode} with only --workdir differing: {p.stderr[-2000:]}")
    print("PASS: exit 2 naming rank 1; --workdir alone may differ")


def case_lost_rank(binary, tmp, how):
    out = os.path.join(tmp, "r.json")
    cmd = MPIRUN + ["-n", "3", binary, "--scenario", "locked", "--duration", "60", "--builds", "0",
                    "--concurrency", "2", "--workdir", os.path.join(tmp, "ws"), "--out", out]
    print("+", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    while time.monotonic() - started < 30 and victim is None and proc.poll() is None:
        time.sleep(0.5)
        victim = next((pid for pid, rank in ranks_pids(binary).items() if rank == 1), None)
    if victim is None:
        proc.kill()
        stdout, stderr = proc.communicate()
        fail(f"rank 1 never started: {stderr[-2000:]}")
    time.sleep(2)
    os.kill(victim, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
    try:
        stdout, stderr = proc.communicate(timeout=45)
    except subprocess.TimeoutExpired:
        proc.kill()
        os.kill(victim, signal.SIGKILL)
        fail("the run hung after rank 1 was lost")
    finally:
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass
    elapsed = time.monotonic() - started
    print(stdout[-3000:], stderr[-3000:], sep="\n")
    if proc.returncode == 0:
        fail("exit 0 with a rank lost")
    if "rank 1" not in stderr:
        fail("nothing names rank 1")
    if how == "hung":
        # Our own liveness check: rank 0 stops every rank, writes the report, exits 3.
        doc = load(out)
        cell = doc["cells"][0] if "cells" in doc else doc
        lost = cell["mpi"]["lost_ranks"]
        if [l["rank"] for l in lost] != [1]:
            fail(f"lost_ranks {lost}")
        if cell["signal"] is not None or not cell["stop_reason"]:
            fail(f"a lost-rank stop is a stop_reason, not a signal: signal {cell['signal']}, stop_reason {cell['stop_reason']}")
        if proc.returncode != 3:
            fail(f"exit {proc.returncode}, expected 3")
    print(f"PASS: ended {elapsed:.1f} s after start (60 s run), exit {proc.returncode}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    binary, case = sys.argv[1], sys.argv[2]
    if not shutil.which("mpirun"):
        skip("mpirun not found (apt-get install openmpi-bin)")
    if not os.access(binary, os.X_OK):
        skip(f"{binary} not built (libopenmpi-dev missing at configure time)")
    tmp = tempfile.mkdtemp(prefix="cachestress-mpi-test-")
    try:
        if case == "locked-4-ranks":
            case_locked_4_ranks(binary, tmp)
        elif case == "process-backend":
            case_process_backend(binary, tmp)
        elif case == "workdir-not-shared":
            case_workdir_not_shared(binary, tmp)
        elif case == "mismatched-arguments":
            case_mismatched_arguments(binary, tmp)
        elif case == "lost-rank-killed":
            case_lost_rank(binary, tmp, "killed")
        elif case == "lost-rank-hung":
            case_lost_rank(binary, tmp, "hung")
        elif case == "two-hosts":
            import two_hosts
            two_hosts.run_case(binary, tmp, run, fail, skip, load)
        else:
            print(f"unknown case {case}")
            sys.exit(2)
    finally:
        subprocess.run(["umount", "-l", tmp], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
