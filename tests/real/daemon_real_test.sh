#!/usr/bin/env bash
# Real podman --remote and BuildKit (ctest label `real`): each scenario runs for real through
# the private daemon its [command] setup starts, then the same builds run simulated
# (--backend inproc, the scenario's semantics profile), and both must reach the same verdicts
# (the differential check: where they disagree, our model of the tool is wrong). After every
# real run, and after a SIGINT mid-run, no daemon or container process of the run may be
# left and nothing may stay mounted under its workspace. A daemon that cannot start must
# end the run with exit 3 naming it.
# Exits 77 (ctest SKIP_RETURN_CODE) when a tool is missing, we are not root, or the daemon
# cannot start on this machine (the reason is printed); any other problem fails.
#   usage: daemon_real_test.sh CACHESTRESS_BINARY CASE
#   CASE: diff:<scenario> | sigint:podman | sigint:docker | cannot-start:podman | cannot-start:docker
set -euo pipefail
bin=$1
case=$2
tool=${case#*:}
case $tool in
  podman*) tool=podman ;;
  buildkit*|docker) tool=docker ;;
  *) echo "unknown case $case" >&2; exit 2 ;;
esac

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
for t in python3 unshare setsid tail runc; do
  command -v "$t" >/dev/null || skip "$t is not installed (apt-get install python3 util-linux coreutils runc)"
done
[[ -x /bin/busybox ]] || skip "/bin/busybox missing (apt-get install busybox-static)"
[[ $(id -u) -eq 0 ]] || skip "the podman service and dockerd need root here"
if [[ $tool == podman ]]; then
  command -v podman >/dev/null || skip "podman is not installed (apt-get install podman)"
else
  for t in dockerd containerd; do command -v "$t" >/dev/null || skip "$t is not installed (apt-get install docker.io)"; done
  [[ -x /usr/bin/docker ]] || skip "/usr/bin/docker is not installed (apt-get install docker.io)"
fi

# A short TMPDIR: the daemon's unix socket lives in the workspace (sun_path is 108 bytes).
tmp=$(mktemp -d /tmp/cs-real.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp

# fields JSON-FILE DOTTED.PATH...: prints those values of a report on one line.
fields() { python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
r=r["cells"][0] if "cells" in r else r  # one report shape: a single run is cells[0]
def get(v, path):
    for k in path.split("."): v=v[int(k)] if isinstance(v,list) else v[k]
    return str(v)
print(" ".join(get(r, p) for p in sys.argv[2:]))' "$@"; }

# daemon_pids: container-tool processes by name (whoever started them).
daemon_pids() {
  local f comm
  for f in /proc/[0-9]*/comm; do
    read -r comm 2>/dev/null < "$f" || continue
    case $comm in
      podman|dockerd|containerd|containerd-shim*|runc|conmon|buildkitd|catatonit) f=${f#/proc/}; echo "${f%/comm}" ;;
    esac
  done
}
daemon_pids > "$tmp/baseline"  # there before this test: not ours
# shellcheck source=tests/real/host_state.sh
source "$(dirname "$0")/host_state.sh"
host_state | sort > "$tmp/host-baseline"  # runc state, CNI, NAT chains... there before: not ours

# leftovers WORKSPACE: prints every process whose command line names the workspace (the
# daemon, containerd, conmon, runc, our watcher), every container-tool process that was not
# running before this test, every mount under the workspace, and what the tools left on the
# host outside it that was not there before this test (host_state.sh); nothing = clean.
leftovers() {
  local ws=$1 f pid
  printf '%s\n' "$ws" > "$tmp/pattern"  # from a file: grep's own command line must not match
  for f in $(grep -lsF -f "$tmp/pattern" /proc/[0-9]*/cmdline); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    echo "process $pid: $(tr '\0' ' ' 2>/dev/null < "$f" | cut -c1-160)"
  done
  for pid in $(daemon_pids | grep -vxF -f "$tmp/baseline"); do
    echo "process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)): $(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | cut -c1-160)"
  done
  grep -F -- "$ws" /proc/mounts | sed 's/^/mount: /' || true
  # What the tools keep outside the workspace: a runc state directory, a CNI reservation, a
  # NAT chain, a cgroup... created since this test started (a daemon stopped mid-RUN).
  new_host_state "$tmp/host-baseline" | sed 's/^/on the host: /'
}

# expect_clean WORKSPACE WHAT: the run's [command] teardown stops the daemon before
# cachestress exits (a watcher, after a SIGKILL); give it 30 s, then fail naming what is left.
expect_clean() {
  local ws=$1 what=$2 left="" start=$SECONDS
  while :; do
    left=$(leftovers "$ws")
    [[ -z $left ]] && { echo "$what: clean $((SECONDS - start)) s after cachestress exited"; return; }
    (( SECONDS - start < 30 )) || break
    sleep 0.2
  done
  fail "$what: still there 30 s after cachestress exited:
$left"
}

# A daemon that cannot start on this machine (not our setup's fault) is a skip, not a fail.
skip_if_daemon_cannot_start() {
  local status=$1 err=$2
  [[ $status -eq 3 ]] || return 0
  if grep -qE "exited at start|not ready after" "$err"; then
    skip "the $tool daemon cannot start here: $(grep -m1 -A3 -E 'exited at start|not ready after' "$err" | tr '\n' ' ')"
  fi
}

# holders WORKSPACE: the most builds that held one BuildKit cache directory at once (each
# RUN prints "holders:N" after its 1 s hold; the build logs stay in a kept workspace).
holders() { cat "$1"/df/*.log | sed -n 's/^#[0-9]* [0-9.]* holders:\([0-9]*\)$/\1/p' | sort -n | tail -1; }

case $case in
  diff:*)
    scenario=${case#diff:}
    ws=$tmp/ws
    status=0
    start=$SECONDS
    "$bin" --scenario "$scenario" --workdir "$ws" --keep --out "$tmp/real.json" -q 2>"$tmp/real.err" || status=$?
    real_s=$((SECONDS - start))
    cat "$tmp/real.err"
    skip_if_daemon_cannot_start "$status" "$tmp/real.err"
    expect_clean "$ws" "$scenario (real)"
    [[ $status -eq 0 ]] || fail "real $scenario exited $status (its expectations: cachestress show $scenario)"
    # The simulated side: same builds, the scenario's own semantics profile, in-process.
    # A cache id per test cannot be a per-build key there: it is a per-build root.
    sim_flags=(--backend inproc)
    [[ $scenario == podman-remote-tmpdir-id ]] && sim_flags+=(--env-policy propagate)
    status=0
    "$bin" --scenario "$scenario" "${sim_flags[@]}" --out "$tmp/sim.json" -q || status=$?
    [[ $status -eq 0 ]] || fail "simulated $scenario exited $status"

    read -r real_foreign real_total real_failed real_dur < <(fields "$tmp/real.json" \
      summary.collisions.foreign summary.collisions.total summary.builds.failed summary.duration_s)
    read -r sim_foreign sim_total sim_overlap sim_dur sim_waited < <(fields "$tmp/sim.json" \
      summary.collisions.foreign summary.collisions.total summary.collisions.lock_overlap summary.duration_s summary.locks.waited)
    [[ $sim_overlap -eq 0 ]] || fail "simulated $scenario: lock_overlap $sim_overlap"
    # Verdict 1: foreign collisions present in both or absent in both.
    if (( (real_foreign > 0) != (sim_foreign > 0) )); then
      fail "$scenario: real foreign collisions $real_foreign, simulated $sim_foreign: the model disagrees with the tool"
    fi
    # Verdict 2: a clean run is clean in both (the simulation may also see torn or missing
    # files where the real check only sees a foreign token, so only zero vs non-zero counts).
    if (( (real_total == 0) != (sim_total == 0) )); then
      fail "$scenario: real collisions $real_total, simulated $sim_total"
    fi
    # A real build fails only when its read-back was a sibling's write: any other failure
    # (a daemon error, a timeout) would make the comparison meaningless.
    [[ $real_failed -eq $real_foreign ]] || fail "$scenario: $real_failed real builds failed but only $real_foreign read a sibling's write"
    extra=""
    if [[ $real_foreign -gt 0 ]]; then
      # Every foreign collision names its polluter and victim by kind and build.
      python3 - "$tmp/real.json" "$scenario" <<'EOF' || fail "$scenario: interference does not name polluter and victim"
import json, sys
report = json.load(open(sys.argv[1]))
report = report["cells"][0] if "cells" in report else report
kinds = {"cache-like-buildkit", "locked-across-steps", "writer-reader"}
rows = [r for r in report["interference"] if r["kind"] == "foreign"]
assert rows, "no foreign interference row"
for r in rows:
    assert r["polluter"] in kinds and r["victim"] in kinds, r
    assert r["example"]["polluter_build"] != r["example"]["victim_build"], r
EOF
      extra=" polluter->victim $(fields "$tmp/real.json" interference.0.polluter interference.0.victim | sed 's/ /->/')"
    fi
    # Verdict 3 (BuildKit): how many builds held one cache directory at once. locked: never
    # two (the simulation: lock_overlap 0, and the 1 s holds add up); shared: several;
    # private: each build its own instance.
    if [[ $tool == docker ]]; then
      most=$(holders "$ws")
      [[ -n $most ]] || fail "$scenario: no holders line in the build logs"
      case $scenario in
        buildkit-locked)
          [[ $most -eq 1 ]] || fail "buildkit-locked: $most builds held the locked cache at once"
          python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 6 else 1)" "$sim_dur" ||
            fail "simulated buildkit-locked took $sim_dur s: six 1 s holds did not serialise"
          [[ $sim_waited -gt 0 ]] || fail "simulated buildkit-locked: no build waited for the lock" ;;
        buildkit-shared|buildkit-id-build-arg)
          [[ $most -gt 1 ]] || fail "$scenario: never more than one build in the shared cache at once" ;;
        buildkit-private)
          [[ $most -eq 1 ]] || fail "buildkit-private: $most builds shared one private instance" ;;
      esac
      extra+=" most holders at once $most"
    fi
    echo "$scenario: real foreign $real_foreign total $real_total failed $real_failed in ${real_dur} s (wall ${real_s} s);" \
         "simulated foreign $sim_foreign total $sim_total lock_overlap $sim_overlap in ${sim_dur} s;$extra"
    ;;
  sigint:*)
    # SIGINT once builds are running: exit 130, then nothing of the daemon left.
    scenario=podman-remote-tmpdir
    [[ $tool == docker ]] && scenario=buildkit-locked
    ws=$tmp/ws
    "$bin" --scenario "$scenario" --workdir "$ws" --out "$tmp/int.json" -q 2>"$tmp/int.err" &
    pid=$!
    # Running: a build's client files exist (setup is over, the daemon is up).
    for i in $(seq 600); do
      compgen -G "$ws/clients/*/*.log" >/dev/null || compgen -G "$ws/df/*.Dockerfile" >/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    kill -INT "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
    cat "$tmp/int.err"
    skip_if_daemon_cannot_start "$status" "$tmp/int.err"
    [[ $status -eq 130 ]] || fail "$scenario after SIGINT exited $status, not 130"
    # The signal must have caught builds in flight, or this tested nothing.
    [[ $(fields "$tmp/int.json" summary.builds.interrupted) -gt 0 ]] || fail "no build was in flight at SIGINT"
    expect_clean "$ws" "$scenario after SIGINT"
    [[ ! -e $ws ]] || fail "workspace $ws still there after SIGINT: $(ls -A "$ws" | tr '\n' ' ')"
    ;;
  cannot-start:*)
    # A daemon that exits at once (a stand-in first on PATH): exit 3 naming it, nothing left.
    mkdir -p "$tmp/bin"
    daemon=podman
    scenario=podman-remote-tmpdir
    [[ $tool == docker ]] && { daemon=dockerd; scenario=buildkit-shared; }
    printf '#!/bin/sh\necho "%s: stand-in that cannot start" >&2\nexit 1\n' "$daemon" > "$tmp/bin/$daemon"
    chmod +x "$tmp/bin/$daemon"
    ws=$tmp/ws
    status=0
    PATH=$tmp/bin:$PATH "$bin" --scenario "$scenario" --workdir "$ws" --out "$tmp/bad.json" -q 2>"$tmp/bad.err" || status=$?
    cat "$tmp/bad.err"
    [[ $status -eq 3 ]] || fail "a $daemon that cannot start: exit $status, not 3"
    grep -qE "$daemon (system service )?exited at start" "$tmp/bad.err" || fail "the error does not say that $daemon exited at start"
    expect_clean "$ws" "$scenario with a $daemon that cannot start"
    ;;
  *) echo "unknown case $case" >&2; exit 2 ;;
esac
