"""Routers in one kernel split equal-cost paths independently only with a hash seed each.

Five namespaces, two equal-cost splits in a row: ``s`` sends 64 flows (fixed source ports) to
``d``'s loopback through ``t``, which splits over ``m1`` and ``m2``, each of which splits again
over its two links to ``d``. Without :func:`runner.hash_seed_sysctl`, ``m1`` and ``m2`` hash each
flow as ``t`` did and send all they get down one link (polarization); with it, both links of
each carry a share. The ports and seeds are fixed, so the kernel's hash gives the same counts on
every run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from netvigil.lab import runner
from netvigil.lab.system import run, socket_in

DST = "198.18.251.1"
PORTS = range(41000, 41064)
ROUNDS = 20
#: each second-stage router and the two links it splits over towards ``d``
SPLITS = {"m1": ("d1a", "d1b"), "m2": ("d2a", "d2b")}


def _build(prefix: str, seeded: bool) -> dict[str, str]:
    names = {n: f"{prefix}{n}" for n in ("s", "t", "m1", "m2", "d")}
    for i, ns in enumerate(names.values()):
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        seed = runner.hash_seed_sysctl(i) if seeded else []
        run(
            [
                "ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
                "net.ipv4.fib_multipath_hash_policy=1",
                "net.ipv6.conf.all.disable_ipv6=1",  # no IPv6 chatter on the counted links
                "net.ipv6.conf.default.disable_ipv6=1",
                *seed,
            ]
        )  # fmt: skip
    gateways: dict[str, str] = {}

    def link(k: int, a: str, a_if: str, b: str, b_if: str) -> None:
        na, nb = names[a], names[b]
        a_addr, b_addr = f"198.18.250.{4 * k + 1}", f"198.18.250.{4 * k + 2}"
        run(f"ip link add {a_if} netns {na} type veth peer name {b_if} netns {nb}".split())
        run(f"ip -n {na} addr add {a_addr}/30 dev {a_if}".split())
        run(f"ip -n {nb} addr add {b_addr}/30 dev {b_if}".split())
        run(f"ip -n {na} link set {a_if} up".split())
        run(f"ip -n {nb} link set {b_if} up".split())
        gateways[b_if] = b_addr

    link(0, "s", "s0", "t", "t0")
    link(1, "t", "t1", "m1", "m1a")
    link(2, "t", "t2", "m2", "m2a")
    link(3, "m1", "m1b", "d", "d1a")
    link(4, "m1", "m1c", "d", "d1b")
    link(5, "m2", "m2b", "d", "d2a")
    link(6, "m2", "m2c", "d", "d2b")
    run(["ip", "-n", names["d"], "addr", "add", f"{DST}/32", "dev", "lo"])
    run(["ip", "-n", names["s"], "route", "add", DST, "via", gateways["t0"]])

    def split(ns: str, a: str, b: str) -> None:
        hops = ["nexthop", "via", gateways[a], "nexthop", "via", gateways[b]]
        run(["ip", "-n", ns, "route", "add", DST, *hops])

    split(names["t"], "m1a", "m2a")
    for m, (a, b) in SPLITS.items():
        split(names[m], a, b)
    return names


def _received(ns: str, ifname: str) -> int:
    return int(
        run(["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{ifname}/statistics/rx_packets"])
    )


def _send_and_count(names: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Each second-stage router's packets on its two links to ``d``, sending ``ROUNDS``
    datagrams on each flow (counters read before and after: neighbour discovery adds a few)."""
    sink = socket_in(names["d"])
    sink.bind((DST, 9))  # a closed port would answer every datagram
    before = {m: [_received(names["d"], i) for i in ifs] for m, ifs in SPLITS.items()}
    socks = [socket_in(names["s"]) for _ in PORTS]
    try:
        for sock, port in zip(socks, PORTS, strict=True):
            sock.bind(("0.0.0.0", port))
        for _ in range(ROUNDS):
            for sock in socks:
                sock.sendto(b"x" * 64, (DST, 9))
        # forwarding runs in softirq, which a busy machine may put off: wait for every datagram
        sent = len(PORTS) * ROUNDS
        deadline = time.monotonic() + 30.0
        while True:
            counts = {
                m: (
                    _received(names["d"], a) - before[m][0],
                    _received(names["d"], b) - before[m][1],
                )
                for m, (a, b) in SPLITS.items()
            }
            if sum(map(sum, counts.values())) >= sent or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)
    finally:
        for sock in [*socks, sink]:
            sock.close()


@pytest.fixture()
def prefix(lab_host: None) -> Iterator[str]:
    if not runner.HASH_SEED_SYSCTL.exists():
        pytest.skip("this kernel has no per-namespace multipath hash seed (Linux 6.11+)")
    p = f"nvecmp{os.getpid() % 100000}-"
    yield p
    for n in run(["ip", "netns", "list"]).split("\n"):
        if n.startswith(p):
            run(["ip", "netns", "del", n.split()[0]], check=False)


def _split_counts(prefix: str, *, seeded: bool) -> dict[str, tuple[int, int]]:
    names = _build(prefix, seeded)
    try:
        return _send_and_count(names)
    finally:
        for ns in names.values():
            run(["ip", "netns", "del", ns], check=False)


def test_each_router_splits_its_own_flows_with_the_labs_hash_seed(prefix: str) -> None:
    counts = _split_counts(prefix, seeded=True)
    assert sum(a + b for a, b in counts.values()) >= len(PORTS) * ROUNDS
    for m, (a, b) in counts.items():
        # 64 flows split over 4 links: each link of each router carries several flows
        assert min(a, b) >= 4 * ROUNDS, (m, counts)


def test_without_a_seed_each_router_repeats_the_first_split(prefix: str) -> None:
    """The control: what the lab did before (every flow takes the same branch at every split)."""
    counts = _split_counts(prefix, seeded=False)
    for m, (a, b) in counts.items():
        # only neighbour discovery's few packets on the branch the flows do not take
        assert min(a, b) < ROUNDS, (m, counts)
