# Sourced by the real tests: what a container tool can leave on the host outside a run's
# workspace, one line per thing, so a before/after comparison names what a run left.
#   host_state: runc state directories (default roots), CNI address reservations and cached
#   results, iptables NAT rules and chains (CNI-*, POSTROUTING), buildah cgroups, the
#   entries under /run/docker, /run/containerd and /dev/shm, /etc/docker/key.json, and the
#   size of podman's host event log.
#   new_host_state BASELINE-FILE: the lines of host_state not in BASELINE-FILE (nothing = clean).
host_state() {
  local p
  for p in /run/runc/* /run/containerd/runc/*/* /var/lib/cni/networks/*/* /var/lib/cni/results/* \
           /sys/fs/cgroup/*/buildah-* /sys/fs/cgroup/buildah-* /run/docker /run/docker/* /run/containerd \
           /run/containerd/* /run/containerd/s/* /dev/shm/* /etc/docker/key.json; do
    [[ -e $p ]] && echo "path: $p"
  done
  [[ -e /run/libpod/events/events.log ]] && echo "podman events log: $(stat -c %s /run/libpod/events/events.log) bytes"
  if command -v iptables >/dev/null; then
    iptables -w 5 -t nat -S 2>/dev/null | sed 's/^/iptables nat: /'
  fi
  return 0
}
new_host_state() {
  host_state | sort | comm -13 "$1" - || true
}
