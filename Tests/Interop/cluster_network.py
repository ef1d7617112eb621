"""Network namespaces for cluster faults that only a network makes: a broker cut from the
other brokers but not from etcd, a leader cut from everything.

The layout (all in namespaces made here, none on the machine's own network):

    hub namespace: bridge 10.77.0.1/24 (the test's clients) and 10.77.0.2 (etcd)
    broker N's namespace: eth0 10.77.0.(10+N)/24, a veth whose other end is on the bridge

The test process moves itself into the hub (`enter_hub`, before it starts any thread: every thread
and subprocess made afterwards is there too) and starts each broker with `prefix(node)`
(`ip netns exec`). A cut drops packets silently, as a failed network does: each broker's eth0 has
an htb qdisc whose class 1:2 holds a zero-length fifo, and a cut is a u32 filter sending the
packets to a destination there (on both sides of the cut); `heal` removes every filter. Only
modules a container kernel commonly has are used (no netem, no drop action). Blackhole routes
would fail sends with EINVAL instead, which a timed-out connection then reports from read() —
not what a network does, and SwiftNIO traps on it. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
"""

from __future__ import annotations

import ctypes
import os
import subprocess

CLIENT_ADDRESS = "10.77.0.1"
ETCD_ADDRESS = "10.77.0.2"
CLONE_NEWNET = 0x40000000


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"strom-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def broker_address(node: int) -> str:
    return f"10.77.0.{10 + node}"


class ClusterNetwork:
    def __init__(self, nodes: list[int]):
        tag = os.getpid()
        self.hub = f"strom{tag}-hub"
        self.namespaces = {node: f"strom{tag}-b{node}" for node in nodes}
        self.cuts: set[tuple[int, str]] = set()  # (node, destination address or "all")

    def _ip(self, *args: str, namespace: str | None = None, check: bool = True):
        command = ["ip", *(["-n", namespace] if namespace else []), *args]
        done = subprocess.run(command, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")

    def create(self) -> "ClusterNetwork":
        self._ip("netns", "add", self.hub)
        for namespace in self.namespaces.values():
            self._ip("netns", "add", namespace)
        self._ip("link", "set", "lo", "up", namespace=self.hub)
        self._ip("link", "add", "br0", "type", "bridge", namespace=self.hub)
        self._ip("link", "set", "br0", "up", namespace=self.hub)
        self._ip("addr", "add", f"{CLIENT_ADDRESS}/24", "dev", "br0", namespace=self.hub)
        self._ip("addr", "add", f"{ETCD_ADDRESS}/24", "dev", "br0", namespace=self.hub)
        for node, namespace in self.namespaces.items():
            self._ip("link", "add", f"vb{node}", "type", "veth", "peer", "name", "eth0", "netns", namespace, namespace=self.hub)
            self._ip("link", "set", f"vb{node}", "master", "br0", "up", namespace=self.hub)
            self._ip("link", "set", "lo", "up", namespace=namespace)
            self._ip("addr", "add", f"{broker_address(node)}/24", "dev", "eth0", namespace=namespace)
            self._ip("link", "set", "eth0", "up", namespace=namespace)
            # Class 1:1 passes (the default); class 1:2 drops everything (a fifo of length 0).
            self._tc(node, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1")
            for classid in ("1:1", "1:2"):
                self._tc(node, "class", "add", "dev", "eth0", "parent", "1:", "classid", classid, "htb", "rate", "10gbit")
            self._tc(node, "qdisc", "add", "dev", "eth0", "parent", "1:2", "handle", "2:", "pfifo", "limit", "0")
        return self

    def _tc(self, node: int, *args: str, check: bool = True):
        command = ["ip", "netns", "exec", self.namespaces[node], "tc", *args]
        done = subprocess.run(command, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")

    def enter_hub(self):
        """Moves the calling thread (call it before any other thread exists) into the hub."""
        descriptor = os.open(f"/run/netns/{self.hub}", os.O_RDONLY)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(descriptor, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the hub namespace failed")
        finally:
            os.close(descriptor)

    def prefix(self, node: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[node]]

    def _cut(self, node: int, destination: str):
        """Drops every packet `node` sends to `destination` (an address, or "all")."""
        if (node, destination) in self.cuts:
            return
        match = ["match", "u32", "0", "0"] if destination == "all" else ["match", "ip", "dst", f"{destination}/32"]
        self._tc(node, "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", *match, "flowid", "1:2")
        self.cuts.add((node, destination))

    def cut_from_brokers(self, node: int):
        """`node` and every other broker stop reaching each other; etcd and clients still reach all."""
        for other in self.namespaces:
            if other != node:
                self._cut(node, broker_address(other))
                self._cut(other, broker_address(node))

    def cut_from_cluster(self, node: int):
        """`node` reaches neither etcd nor the other brokers (nor they it); clients still reach it."""
        self.cut_from_brokers(node)
        self._cut(node, ETCD_ADDRESS)

    def isolate(self, node: int):
        """`node` reaches nothing and nothing reaches it (nothing it sends arrives)."""
        self._cut(node, "all")

    def heal(self):
        for node in sorted({node for node, _ in self.cuts}):
            self._tc(node, "filter", "del", "dev", "eth0", "parent", "1:", check=False)
        self.cuts.clear()

    def destroy(self):
        """Deletes every namespace (their veths go with them); processes in them must be stopped first."""
        for namespace in [*self.namespaces.values(), self.hub]:
            self._ip("netns", "del", namespace, check=False)
