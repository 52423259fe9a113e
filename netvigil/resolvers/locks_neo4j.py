"""Entity locks in the Neo4j database the workers already share: locks across machines.

:class:`~netvigil.resolvers.locks.SqliteLocks` serialises workers that share one data
directory, which is one machine. Workers of the Kafka runtime on several machines share the
topology's Neo4j (``graph.url``), so the lock rows live there, as ``(:NvLock {entity, holder,
token, expires})`` nodes beside one ``(:NvLockToken {id: 1, last})`` node, and the lease logic
is the same pure :func:`~netvigil.resolvers.locks.grant` and
:func:`~netvigil.resolvers.locks.release_rows` as in SQLite.

Why this is exclusive: every acquire and release first writes the token node inside its
transaction, and Neo4j holds a node's write lock until the transaction ends, so grants run
one at a time across all workers (a deadlock or lost connection is a transient error the
driver retries; a refused grant still bumps only the token node's ``grants`` counter). The
fencing token is ``last + 1`` of that node, so it only grows. An unreachable Neo4j raises
:class:`~netvigil.errors.GraphUnavailable`: the remediation waits, nothing is granted.

This replaces the design first sketched in :mod:`netvigil.resolvers.locks` (lock requests as
events keyed by entity, a faust table per partition): a multi-entity lease there needs a
round trip through several partitions per grant, here it is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

import neo4j

from netvigil.graph.neo4j import Neo4jTopology
from netvigil.resolvers.base import Lease, LockRefusal
from netvigil.resolvers.locks import LockRow, grant, release_rows, still_held

__all__ = ["Neo4jLocks"]

_SCHEMA = "CREATE CONSTRAINT nv_lock IF NOT EXISTS FOR (l:NvLock) REQUIRE l.entity IS UNIQUE"
_TOKEN = "MERGE (t:NvLockToken {id: 1}) ON CREATE SET t.last = 0, t.grants = 0 "
_SERIALISE = _TOKEN + "SET t.grants = t.grants + 1 RETURN t.last AS last"
_READ = (
    "MATCH (l:NvLock) WHERE l.entity IN $entities "
    "RETURN l.entity AS entity, l.holder AS holder, l.token AS token, l.expires AS expires"
)
_WRITE = (
    "UNWIND $rows AS r MERGE (l:NvLock {entity: r.entity}) "
    "SET l.holder = r.holder, l.token = r.token, l.expires = r.expires"
)


class _Rows(MutableMapping[str, LockRow]):
    """Lock rows read in a transaction; what :func:`grant` writes is kept to write back."""

    def __init__(self, tx: neo4j.ManagedTransaction, entities: list[str]) -> None:
        self.rows = {
            r["entity"]: LockRow(r["holder"], r["token"], r["expires"])
            for r in tx.run(_READ, entities=entities)
        }
        self.written: dict[str, LockRow] = {}

    def __getitem__(self, key: str) -> LockRow:
        return self.rows[key]

    def __setitem__(self, key: str, row: LockRow) -> None:
        self.rows[key] = self.written[key] = row

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("lock rows are never deleted (tokens must keep growing)")

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def flush(self, tx: neo4j.ManagedTransaction) -> None:
        rows = [
            {"entity": e, "holder": r.holder, "token": r.token, "expires": r.expires}
            for e, r in sorted(self.written.items())
        ]
        if rows:
            tx.run(_WRITE, rows=rows).consume()


class Neo4jLocks:
    """A :class:`~netvigil.resolvers.base.LockManager` in the shared Neo4j database."""

    def __init__(self, graph: Neo4jTopology) -> None:
        self.graph = graph
        graph.execute("write", lambda tx: tx.run(_SCHEMA).consume())
        graph.execute("write", lambda tx: tx.run(_TOKEN).consume())

    def acquire(
        self, entities: list[str], holder: str, *, ttl_s: float, now: float
    ) -> Lease | LockRefusal:
        def work(tx: neo4j.ManagedTransaction) -> Lease | LockRefusal:
            last = tx.run(_SERIALISE).single(strict=True)["last"]
            rows = _Rows(tx, sorted(set(entities)))
            result = grant(rows, last + 1, entities, holder, ttl_s=ttl_s, now=now)
            if isinstance(result, Lease):
                rows.flush(tx)
                tx.run("MATCH (t:NvLockToken {id: 1}) SET t.last = $last", last=last + 1)
            return result

        return self.graph.execute("write", work)

    def release(self, lease: Lease) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            tx.run(_SERIALISE).consume()
            rows = _Rows(tx, list(lease.entities))
            release_rows(rows, lease)
            rows.flush(tx)

        self.graph.execute("write", work)

    def valid(self, lease: Lease, *, now: float) -> bool:
        rows = self.graph.execute("read", lambda tx: _Rows(tx, list(lease.entities)).rows)
        return still_held(rows, lease, now=now)

    def holders(self) -> dict[str, LockRow]:
        def work(tx: neo4j.ManagedTransaction) -> dict[str, LockRow]:
            q = "MATCH (l:NvLock) WHERE l.holder <> '' RETURN l.entity AS e, l AS l"
            return {
                r["e"]: LockRow(r["l"]["holder"], r["l"]["token"], r["l"]["expires"])
                for r in tx.run(q)
            }

        return self.graph.execute("read", work)

    def close(self) -> None:
        """The graph store owns the driver; nothing of the locks' own to close."""
