"""Two simulated hosts on one machine: network namespaces on a bridge, each with its own
host name (unshare -u), joined by Open MPI's rsh launcher through a small agent script.
Every namespace sees the same filesystem, so the workdir is one shared directory."""
import json
import os
import subprocess
import shutil


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


class TwoHosts:
    def __init__(self, tmp):
        tag = str(os.getpid() % 200 + 20)
        self.subnet = f"10.219.{tag}"
        self.bridge = f"csbr{tag}"
        self.hosts = [f"cs{tag}a", f"cs{tag}b"]
        self.tmp = tmp

    def __enter__(self):
        try:
            sh("ip", "link", "add", self.bridge, "type", "bridge")
            sh("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            sh("ip", "link", "set", self.bridge, "up")
            for i, ns in enumerate(self.hosts):
                sh("ip", "netns", "add", ns)
                sh("ip", "link", "add", f"v{ns}", "type", "veth", "peer", "name", "eth0", "netns", ns)
                sh("ip", "link", "set", f"v{ns}", "master", self.bridge, "up")
                sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.subnet}.{i + 2}/24", "dev", "eth0")
                sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
                sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{' '.join(e.cmd)}: {e.stderr.strip()}")
        self.hostfile = os.path.join(self.tmp, "hostfile")
        with open(self.hostfile, "w") as f:
            f.writelines(f"{ns} slots=2\n" for ns in self.hosts)
        # Open MPI starts its daemon on each "host" through this agent, as it would with ssh.
        self.agent = os.path.join(self.tmp, "netns-agent.sh")
        with open(self.agent, "w") as f:
            f.write('#!/bin/sh\nhost=$1\nshift\nexec ip netns exec "$host" unshare -u sh -c \'hostname "$0"; exec sh -c "$*"\' "$host" "$@"\n')
        os.chmod(self.agent, 0o755)
        return self

    def mpirun(self):
        net = f"{self.subnet}.0/24"
        return ["mpirun", "--allow-run-as-root", "--oversubscribe", "--hostfile", self.hostfile,
                "--mca", "plm_rsh_agent", self.agent, "--mca", "btl", "self,tcp",
                "--mca", "btl_tcp_if_include", net, "--mca", "oob_tcp_if_include", net, "--mca", "rtc", "^hwloc",
                "-n", "4"]

    def __exit__(self, *exc):
        for ns in self.hosts:
            sh("ip", "netns", "delete", ns, check=False)
            sh("ip", "link", "delete", f"v{ns}", check=False)
        sh("ip", "link", "delete", self.bridge, check=False)


def run_case(binary, tmp, run, fail, skip, load):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        skip("needs root, ip (iproute2) and unshare to make two hosts out of network namespaces")
    try:
        hosts_cm = TwoHosts(tmp)
        hosts = hosts_cm.__enter__()
    except RuntimeError as e:
        skip(f"cannot make network namespaces here: {e}")
    try:
        results = {}
        for isolation in ("shared", "per-host"):
            out = os.path.join(tmp, f"{isolation}.json")
            p = run(hosts.mpirun() + [binary, "--scenario", "remote-tmpdir", "--isolation", isolation,
                                      "--builds", "64", "--concurrency", "4", "--workdir", os.path.join(tmp, "ws"),
                                      "--out", out, "-q"], timeout=240)
            if p.returncode not in (0, 1):
                fail(f"{isolation}: exit {p.returncode}")
            doc = load(out)
            results[isolation] = doc["cells"][0] if "cells" in doc else doc
        shared, per_host = results["shared"], results["per-host"]
        names = sorted({h["host"] for h in shared["hosts"]})
        if names != sorted(hosts.hosts):
            fail(f"hosts {names}, expected {hosts.hosts}")
        cross = shared["mpi"]["cross_host_examples"]
        if shared["mpi"]["cross_host_collisions"] == 0 or not cross:
            fail("shared cache across two hosts: no collision between hosts")
        example = cross[0]
        if example["polluter_host"] == example["victim_host"]:
            fail(f"a cross-host example names one host: {example}")
        if per_host["mpi"]["cross_host_collisions"] != 0:
            fail(f"per-host caches: {per_host['mpi']['cross_host_collisions']} collisions between hosts")
        print(f"PASS: shared {shared['mpi']['cross_host_collisions']} collisions between hosts "
              f"(e.g. build {example['polluter_build']} on {example['polluter_host']} -> build "
              f"{example['victim_build']} on {example['victim_host']}), per-host none")
    finally:
        hosts_cm.__exit__(None, None, None)
