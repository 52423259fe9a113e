"""Entity locks in the real Neo4j: the same lease rules as SQLite, exclusive across processes
that each have their own driver (as workers on different machines would)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.graph.neo4j import Neo4jTopology
from netvigil.resolvers.base import Lease, LockRefusal
from netvigil.resolvers.locks_neo4j import Neo4jLocks


@pytest.fixture
def locks(neo4j_url: str) -> Iterator[Neo4jLocks]:
    graph = Neo4jTopology(neo4j_url)
    graph.execute("write", lambda tx: tx.run("MATCH (l:NvLock) DELETE l").consume())
    try:
        yield Neo4jLocks(graph)
    finally:
        graph.close()


def test_leases_conflicts_expiry_release_and_fencing(locks: Neo4jLocks) -> None:
    a = locks.acquire(["a--b", "a:ge0"], "req-1", ttl_s=60, now=0.0)
    assert isinstance(a, Lease) and a.entities == ("a--b", "a:ge0")
    b = locks.acquire(["a:ge0"], "req-2", ttl_s=60, now=10.0)
    assert isinstance(b, LockRefusal) and b.holder == "req-1" and b.entity == "a:ge0"
    locks.release(a)
    c = locks.acquire(["a:ge0"], "req-2", ttl_s=60, now=11.0)
    assert isinstance(c, Lease) and c.token > a.token
    d = locks.acquire(["a:ge0"], "req-3", ttl_s=60, now=72.0)  # c expired at 71
    assert isinstance(d, Lease) and d.token > c.token
    assert not locks.valid(c, now=72.0) and locks.valid(d, now=72.0)
    locks.release(c)  # releasing a lost lease frees nothing
    assert locks.holders()["a:ge0"].holder == "req-3"
    assert "a--b" not in locks.holders()


def test_clearing_the_topology_keeps_the_locks(neo4j_url: str, locks: Neo4jLocks) -> None:
    lease = locks.acquire(["x--y"], "req-9", ttl_s=60, now=0.0)
    assert isinstance(lease, Lease)
    locks.graph.clear()
    assert locks.valid(lease, now=1.0)
    again = locks.acquire(["x--z"], "req-9", ttl_s=60, now=1.0)
    assert isinstance(again, Lease) and again.token > lease.token


def _contend(url: str, name: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[name-defined]
    graph = Neo4jTopology(url)
    locks = Neo4jLocks(graph)
    barrier.wait()
    got = locks.acquire(["core1--core2", "core2:et1"], name, ttl_s=600, now=100.0)
    out.put((name, isinstance(got, Lease)))
    graph.close()


def test_exclusive_across_processes_with_their_own_drivers(
    neo4j_url: str, locks: Neo4jLocks
) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_contend, args=(neo4j_url, f"w{i}", barrier, out)) for i in range(4)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    winners = [n for n, ok in results if ok]
    assert len(results) == 4 and len(winners) == 1
    held = locks.holders()
    assert held["core1--core2"].holder == held["core2:et1"].holder == winners[0]


def test_the_coordinator_takes_its_locks_where_the_settings_say(
    neo4j_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netvigil.config import Settings
    from netvigil.errors import ConfigError
    from netvigil.graph.memory import MemoryTopology
    from netvigil.resolvers.assemble import open_locks
    from netvigil.resolvers.locks import SqliteLocks

    data = tmp_path
    graph = Neo4jTopology(neo4j_url)
    try:
        assert isinstance(open_locks(Settings(), data, graph), Neo4jLocks)  # auto
        assert isinstance(open_locks(Settings(), data, MemoryTopology()), SqliteLocks)
        monkeypatch.setenv("NETVIGIL_COORDINATOR__LOCKS", "sqlite")
        assert isinstance(open_locks(Settings(), data, graph), SqliteLocks)
        monkeypatch.setenv("NETVIGIL_COORDINATOR__LOCKS", "graph")
        with pytest.raises(ConfigError, match="neo4j://"):
            open_locks(Settings(), data, MemoryTopology())
    finally:
        graph.close()
