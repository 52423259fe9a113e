"""The Neo4j topology store (``neo4j://HOST:PORT`` or ``bolt://HOST:PORT``).

Schema (one uniqueness constraint per key, indexes on what queries filter by)::

    (:Site {name})<-[:AT]-(:Device {name, role, vendor, site, weight})
    (:Device)-[:HAS]->(:Interface {id, name, device, link})-[:CONNECTS]->(:Link {id, ...})
    (:Device)-[:LINKED {link, metric}]->(:Device)          one per link, for traversals
    (:Service {name, kind})-[:TRAVERSES]->(:Link), (:Service)-[:DEPENDS_ON]->(:Device)
    (:Meta {id: 'topology', generation})                   bumped by every write that changes

``LINKED`` duplicates what ``HAS``/``CONNECTS`` say so that neighbourhood and path queries walk
one relationship per hop instead of four. Writes are batched ``UNWIND`` statements in managed
transactions of at most ``tx_rows`` rows that write only what differs from the store
(:mod:`netvigil.graph.neo4j_load`: checked first, idempotent), which the official driver
retries on transient errors (deadlocks, leader changes, a dropped connection) for up to
``retry_s``; what still fails becomes a :class:`GraphUnavailable` naming the server and the
fix. Neighbours, hop counts, the k-hop subgraph and the common upstream (``ALL SHORTEST``
paths) are Cypher. Reads of every device, link, site or service are paged by key (``page_rows``
per query, in order of the uniqueness constraint's index) inside one read transaction that is
repeated if the generation moved meanwhile, so what they return is one generation's graph and
no query holds the whole graph in the server's memory. IGP-weighted routes and cut-off devices
run on an adjacency snapshot read that way and cached per generation (community Neo4j has no
weighted shortest path or connected components without plugins; see
:mod:`netvigil.graph.algorithms`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import neo4j
import networkx as nx
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired

from netvigil.errors import GraphUnavailable, TopologyError
from netvigil.graph import algorithms as alg
from netvigil.graph.base import (
    BlastRadius,
    Device,
    Interface,
    Link,
    Route,
    Service,
    Site,
    Subgraph,
    entity_devices,
)
from netvigil.graph.neo4j_load import (
    BATCH,
    BUMP,
    TX_ROWS,
    Rows,
    bulk_load,
    delete_links,
    unprops,
)
from netvigil.redaction import redact_urls

__all__ = ["BATCH", "PAGE_ROWS", "TX_ROWS", "GraphUnavailable", "Neo4jTopology"]

T = TypeVar("T")

#: rows per page of a read of every device, link, site or service
PAGE_ROWS = 5000

#: a Service node ``x`` with its links and devices, as a record (see ``_service``)
_SERVICE = (
    "x AS s, COLLECT { MATCH (x)-[:TRAVERSES]->(l) RETURN l.id ORDER BY l.id } AS links, "
    "COLLECT { MATCH (x)-[:DEPENDS_ON]->(d) RETURN d.name ORDER BY d.name } AS devices"
)

_SCHEMA = [
    "CREATE CONSTRAINT nv_site IF NOT EXISTS FOR (s:Site) REQUIRE s.name IS UNIQUE",
    "CREATE CONSTRAINT nv_device IF NOT EXISTS FOR (d:Device) REQUIRE d.name IS UNIQUE",
    "CREATE CONSTRAINT nv_interface IF NOT EXISTS FOR (i:Interface) REQUIRE i.id IS UNIQUE",
    "CREATE CONSTRAINT nv_link IF NOT EXISTS FOR (l:Link) REQUIRE l.id IS UNIQUE",
    "CREATE CONSTRAINT nv_service IF NOT EXISTS FOR (s:Service) REQUIRE s.name IS UNIQUE",
    "CREATE INDEX nv_device_role IF NOT EXISTS FOR (d:Device) ON (d.role)",
    "CREATE INDEX nv_device_site IF NOT EXISTS FOR (d:Device) ON (d.site)",
    "CREATE INDEX nv_link_source IF NOT EXISTS FOR (l:Link) ON (l.source)",
    "CREATE INDEX nv_linked_link IF NOT EXISTS FOR ()-[r:LINKED]-() ON (r.link)",
]


def _device(n: Mapping[str, Any]) -> Device:
    return Device(
        name=n["name"],
        role=n.get("role") or "",
        vendor=n.get("vendor") or "",
        site=n.get("site") or "",
        weight=float(n.get("weight", 1.0)),
        props=unprops(n.get("props")),
    )


def _link(n: Mapping[str, Any]) -> Link:
    return Link(
        id=n["id"],
        a=n["a"],
        a_if=n["a_if"],
        b=n["b"],
        b_if=n["b_if"],
        capacity_bps=float(n["capacity_bps"]),
        igp_metric=int(n["igp_metric"]),
        props=unprops(n.get("props")),
        source=n.get("source") or "",
        last_seen=n.get("last_seen"),
    )


class Neo4jTopology:
    """A TopologyStore in Neo4j, through the official driver (thread-safe; see graph.aio)."""

    io_bound = True

    def __init__(
        self,
        url: str,
        *,
        user: str = "neo4j",
        password: str = "",
        database: str = "neo4j",
        retry_s: float = 15.0,
        driver: neo4j.Driver | None = None,
        tx_rows: int = TX_ROWS,
        page_rows: int = PAGE_ROWS,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("neo4j", "bolt", "neo4j+s", "bolt+s") or not parts.netloc:
            raise TopologyError(f"graph url {redact_urls(url)!r} is not like neo4j://HOST:PORT")
        self.url = url
        self.database = database
        self.tx_rows = tx_rows
        self.page_rows = page_rows
        auth = (user, password) if password else None
        self._driver = driver or neo4j.GraphDatabase.driver(
            url,
            auth=auth,
            max_transaction_retry_time=retry_s,
            connection_timeout=5.0,
            notifications_min_severity="OFF",
        )
        self._snap_lock = threading.Lock()
        self._snap: tuple[int, nx.MultiGraph, dict[str, Link], list[Service]] | None = None
        self._write(lambda tx: None, schema=True)

    def close(self) -> None:
        self._driver.close()

    # -------------------------------------------------------------- plumbing

    def _run(self, mode: str, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        try:
            with self._driver.session(database=self.database) as s:
                if mode == "read":
                    return s.execute_read(work)
                return s.execute_write(work)
        except (ServiceUnavailable, SessionExpired) as exc:
            raise GraphUnavailable(
                f"Neo4j at {redact_urls(self.url)} is unreachable ({exc}); start it "
                "(python -m provision start neo4j) or set graph.url"
            ) from exc
        except AuthError as exc:
            raise GraphUnavailable(
                f"Neo4j at {redact_urls(self.url)} refused the credentials; set graph.user/"
                "graph.password"
            ) from exc
        except Neo4jError as exc:
            raise TopologyError(f"Neo4j at {redact_urls(self.url)} failed a query: {exc}") from exc

    def execute(self, mode: str, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``work`` in one managed ``read`` or ``write`` transaction of this database (the
        driver retries transient errors); for state that other stages keep beside the
        topology, such as :class:`~netvigil.resolvers.locks_neo4j.Neo4jLocks`."""
        return self._run(mode, work)

    def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        def work(tx: neo4j.ManagedTransaction) -> list[neo4j.Record]:
            return list(tx.run(query, params))

        return self._run("read", work)

    def _write(self, work: Callable[[neo4j.ManagedTransaction], Any], schema: bool = False) -> None:
        if schema:
            for stmt in _SCHEMA:

                def ddl(tx: neo4j.ManagedTransaction, q: str = stmt) -> None:
                    tx.run(q).consume()

                self._run("write", ddl)
            return

        def wrapped(tx: neo4j.ManagedTransaction) -> None:
            work(tx)
            tx.run(BUMP).consume()

        self._run("write", wrapped)

    # -------------------------------------------------------------- writes

    def add_site(self, site: Site) -> None:
        self.load(sites=[site])

    def add_device(self, device: Device) -> None:
        self.load(devices=[device])

    def add_link(self, link: Link) -> None:
        self.load(links=[link])

    def add_service(self, service: Service) -> None:
        self.load(services=[service])

    def load(
        self,
        *,
        sites: Iterable[Site] = (),
        devices: Iterable[Device] = (),
        links: Iterable[Link] = (),
        services: Iterable[Service] = (),
    ) -> None:
        """Create or update these entities: checked first, then written in transactions of
        at most ``tx_rows`` rows, only what differs from the store (see
        :mod:`netvigil.graph.neo4j_load`)."""
        bulk_load(self._run, Rows(sites, devices, links, services), self.tx_rows)

    def remove_link(self, link_id: str) -> None:
        self._write(lambda tx: delete_links(tx, [link_id]))

    def clear(self) -> None:
        """Delete the topology in transactions of ``tx_rows`` nodes (one transaction for a
        large graph would exceed the server's transaction memory)."""

        def work(tx: neo4j.ManagedTransaction) -> int:
            # the topology only: the entity locks kept beside it (NvLock*) must survive
            rec = tx.run(
                "MATCH (n) WHERE NOT (n:Meta OR n:NvLock OR n:NvLockToken) "
                "WITH n LIMIT $n DETACH DELETE n RETURN count(*) AS gone",
                n=max(1, self.tx_rows),
            ).single()
            return int(rec["gone"]) if rec else 0

        while self._run("write", work):
            pass
        self._write(lambda tx: None)

    def generation(self) -> int:
        rows = self._read("MATCH (m:Meta {id: 'topology'}) RETURN m.generation AS g")
        return int(rows[0]["g"]) if rows else 0

    # -------------------------------------------------------------- lookups

    def _paged(
        self, tx: neo4j.ManagedTransaction, label: str, key: str, ret: str
    ) -> list[neo4j.Record]:
        """Every ``label`` node as ``x``, returned as ``ret``, in pages of ``page_rows`` by
        ``key`` (the constraint's index gives the order: no sort of the whole set)."""
        out: list[neo4j.Record] = []
        after = ""
        while True:
            page = list(
                tx.run(
                    f"MATCH (x:{label}) WHERE x.{key} > $after "
                    f"WITH x ORDER BY x.{key} LIMIT $n RETURN x.{key} AS _k, {ret}",
                    after=after,
                    n=max(1, self.page_rows),
                )
            )
            out += page
            if len(page) < max(1, self.page_rows):
                return out
            after = page[-1]["_k"]

    def _whole(self, read: Callable[[neo4j.ManagedTransaction], T]) -> tuple[int, T]:
        """``read`` (paged reads) in one read transaction, repeated while the generation moved
        under it: the result is the graph of the generation returned."""
        q = "OPTIONAL MATCH (m:Meta {id: 'topology'}) RETURN coalesce(m.generation, 0) AS g"

        def work(tx: neo4j.ManagedTransaction) -> tuple[int, int, T]:
            g0 = int(tx.run(q).single(strict=True)["g"])
            out = read(tx)
            return g0, int(tx.run(q).single(strict=True)["g"]), out

        for _ in range(5):
            g0, g1, out = self._run("read", work)
            if g0 == g1:
                return g0, out
        raise TopologyError(
            f"Neo4j at {redact_urls(self.url)}: the topology kept changing while it was read"
        )

    def sites(self) -> list[Site]:
        _, rows = self._whole(lambda tx: self._paged(tx, "Site", "name", "x AS s"))
        return [
            Site(r["s"]["name"], r["s"].get("region") or "", unprops(r["s"].get("props")))
            for r in rows
        ]

    def devices(self) -> list[Device]:
        _, rows = self._whole(lambda tx: self._paged(tx, "Device", "name", "x AS d"))
        return [_device(r["d"]) for r in rows]

    def links(self) -> list[Link]:
        _, rows = self._whole(lambda tx: self._paged(tx, "Link", "id", "x AS l"))
        return [_link(r["l"]) for r in rows]

    def services(self) -> list[Service]:
        _, rows = self._whole(lambda tx: self._paged(tx, "Service", "name", _SERVICE))
        return [self._service(r) for r in rows]

    @staticmethod
    def _service(r: neo4j.Record) -> Service:
        return Service(
            name=r["s"]["name"],
            kind=r["s"].get("kind") or "",
            links=tuple(r["links"]),
            devices=tuple(r["devices"]),
            props=unprops(r["s"].get("props")),
        )

    def site(self, name: str) -> Site:
        rows = self._read("MATCH (s:Site {name: $n}) RETURN s", n=name)
        if not rows:
            raise TopologyError(f"unknown site {name!r}")
        s = rows[0]["s"]
        return Site(s["name"], s.get("region") or "", unprops(s.get("props")))

    def device(self, name: str) -> Device:
        rows = self._read("MATCH (d:Device {name: $n}) RETURN d", n=name)
        if not rows:
            raise TopologyError(f"unknown device {name!r}")
        return _device(rows[0]["d"])

    def link(self, link_id: str) -> Link:
        rows = self._read("MATCH (l:Link {id: $id}) RETURN l", id=link_id)
        if not rows:
            raise TopologyError(f"unknown link {link_id!r}")
        return _link(rows[0]["l"])

    def service(self, name: str) -> Service:
        rows = self._read(
            "MATCH (x:Service {name: $n}) RETURN " + _SERVICE,
            n=name,
        )
        if not rows:
            raise TopologyError(f"unknown service {name!r}")
        return self._service(rows[0])

    def interfaces(self, device: str) -> list[Interface]:
        rows = self._read(
            "MATCH (d:Device {name: $n}) "
            "RETURN COLLECT { MATCH (d)-[:HAS]->(i) RETURN i ORDER BY i.id } AS ifs",
            n=device,
        )
        if not rows:
            raise TopologyError(f"unknown device {device!r}")
        return [Interface(i["id"], i["device"], i["name"], i["link"]) for i in rows[0]["ifs"]]

    def interface(self, interface_id: str) -> Interface:
        rows = self._read("MATCH (i:Interface {id: $id}) RETURN i", id=interface_id)
        if not rows:
            raise TopologyError(f"unknown interface {interface_id!r}")
        i = rows[0]["i"]
        return Interface(i["id"], i["device"], i["name"], i["link"])

    def links_of(self, device: str) -> list[Link]:
        rows = self._read(
            "MATCH (d:Device {name: $n}) "
            "RETURN COLLECT { MATCH (d)-[:HAS]->(:Interface)-[:CONNECTS]->(l:Link) "
            "  RETURN DISTINCT l ORDER BY l.id } AS links",
            n=device,
        )
        if not rows:
            raise TopologyError(f"unknown device {device!r}")
        return [_link(lk) for lk in rows[0]["links"]]

    def has(self, entity: str) -> bool:
        rows = self._read(
            "RETURN EXISTS { MATCH (d:Device {name: $e}) } OR EXISTS { MATCH (l:Link {id: $e}) } "
            "OR EXISTS { MATCH (i:Interface {id: $e}) } "
            "OR EXISTS { MATCH (s:Service {name: $e}) } AS known",
            e=entity,
        )
        return bool(rows[0]["known"])

    # -------------------------------------------------------------- queries

    def neighbors(self, device: str) -> list[str]:
        rows = self._read(
            "MATCH (d:Device {name: $n}) "
            "RETURN COLLECT { MATCH (d)-[:LINKED]-(o:Device) WHERE o <> d "
            "  RETURN DISTINCT o.name AS name ORDER BY name } AS nb",
            n=device,
        )
        if not rows:
            raise TopologyError(f"unknown device {device!r}")
        return list(rows[0]["nb"])

    def hops(self, a: str, b: str) -> int | None:
        if a == b:
            return 0 if self.has(a) else None
        rows = self._read(
            "MATCH (a:Device {name: $a}), (b:Device {name: $b}) "
            "MATCH p = shortestPath((a)-[:LINKED*]-(b)) RETURN length(p) AS n",
            a=a,
            b=b,
        )
        return int(rows[0]["n"]) if rows else None

    def k_hop(self, devices: set[str], k: int) -> set[str]:
        if not devices:
            return set()
        rows = self._read(
            f"MATCH (s:Device) WHERE s.name IN $names "
            f"MATCH (s)-[:LINKED*0..{int(k)}]-(d:Device) RETURN DISTINCT d.name AS name",
            names=sorted(devices),
        )
        return {r["name"] for r in rows}

    def subgraph(self, entities: Iterable[str], k: int) -> Subgraph:
        entities = list(entities)
        seeds = {d for e in entities for d in entity_devices(e)}

        def work(tx: neo4j.ManagedTransaction) -> tuple[list[Device], list[Link]]:
            svc = tx.run(
                "MATCH (s:Service) WHERE s.name IN $e "
                "RETURN COLLECT { MATCH (s)-[:DEPENDS_ON]->(d) RETURN d.name } + "
                "COLLECT { MATCH (s)-[:TRAVERSES]->(l) UNWIND [l.a, l.b] AS n RETURN n } AS ns",
                e=entities,
            )
            names = set(seeds)
            for r in svc:
                names.update(r["ns"])
            rows = tx.run(
                f"MATCH (s:Device) WHERE s.name IN $names "
                f"MATCH (s)-[:LINKED*0..{int(k)}]-(d:Device) WITH DISTINCT d "
                "RETURN d ORDER BY d.name",
                names=sorted(names),
            )
            devs = [_device(r["d"]) for r in rows]
            within = [d.name for d in devs]
            lrows = tx.run(
                "MATCH (a:Device)-[r:LINKED]->(b:Device) WHERE a.name IN $n AND b.name IN $n "
                "MATCH (l:Link {id: r.link}) RETURN l ORDER BY l.id",
                n=within,
            )
            return devs, [_link(r["l"]) for r in lrows]

        devs, links = self._run("read", work)
        return Subgraph(tuple(devs), tuple(links))

    def neighbourhood(self, entities: Iterable[str]) -> Subgraph:
        seeds = sorted({d for e in entities for d in entity_devices(e)})

        def work(tx: neo4j.ManagedTransaction) -> tuple[list[Device], list[Link]]:
            rec = tx.run(
                "MATCH (s:Device) WHERE s.name IN $names "
                "OPTIONAL MATCH (s)-[r:LINKED]-(o:Device) "
                "WITH collect(DISTINCT s) + collect(DISTINCT o) AS ds, "
                "     collect(DISTINCT r.link) AS ids "
                "RETURN [d IN ds WHERE d IS NOT NULL] AS ds, "
                "COLLECT { MATCH (l:Link) WHERE l.id IN ids RETURN l } AS ls",
                names=seeds,
            ).single()
            if rec is None:
                return [], []
            devs = {d["name"]: _device(d) for d in rec["ds"]}
            return [devs[n] for n in sorted(devs)], sorted(
                map(_link, rec["ls"]), key=lambda x: x.id
            )

        devs, links = self._run("read", work)
        return Subgraph(tuple(devs), tuple(links))

    def _snapshot(self) -> tuple[nx.MultiGraph, dict[str, Link], list[Service]]:
        gen = self.generation()
        with self._snap_lock:
            if self._snap is not None and self._snap[0] == gen:
                return self._snap[1], self._snap[2], self._snap[3]

        def read(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[Link], list[Service]]:
            names = [r["_k"] for r in self._paged(tx, "Device", "name", "1 AS one")]
            links = [_link(r["l"]) for r in self._paged(tx, "Link", "id", "x AS l")]
            services = [self._service(r) for r in self._paged(tx, "Service", "name", _SERVICE)]
            return names, links, services

        gen, (names, links, services) = self._whole(read)
        graph = alg.build_graph(names, links)
        by_id = {lk.id: lk for lk in links}
        with self._snap_lock:
            self._snap = (gen, graph, by_id, services)
        return graph, by_id, services

    def _avoid(self, avoid: Iterable[str], links: Mapping[str, Link]) -> tuple[set[str], set[str]]:
        devs: set[str] = set()
        lks: set[str] = set()
        ifaces = {lk.a_if: lk.id for lk in links.values()} | {
            lk.b_if: lk.id for lk in links.values()
        }
        for e in avoid:
            if e in links:
                lks.add(e)
            elif e in ifaces:
                lks.add(ifaces[e])
            else:
                devs.add(e)
        return devs, lks

    def shortest_path(self, a: str, b: str, *, avoid: Iterable[str] = ()) -> Route | None:
        g, links, _ = self._snapshot()
        for n in (a, b):
            if n not in g:
                raise TopologyError(f"unknown device {n!r}")
        devs, lks = self._avoid(avoid, links)
        found = alg.routes(g, a, b, 1, avoid_devices=devs, avoid_links=lks)
        return found[0] if found else None

    def alternate_paths(self, a: str, b: str, k: int = 3) -> list[Route]:
        g, _, _ = self._snapshot()
        for n in (a, b):
            if n not in g:
                raise TopologyError(f"unknown device {n!r}")
        return alg.routes(g, a, b, k)

    def blast_radius(self, entity: str) -> BlastRadius:
        g, links, services = self._snapshot()
        if entity in g:
            devs, lks = {entity}, {key for _, _, key in g.edges(entity, keys=True)}
        elif entity in links:
            devs, lks = set(), {entity}
        else:
            owner = self._avoid([entity], links)[1]
            if not owner:
                raise TopologyError(
                    f"unknown entity {entity!r}: give a device, interface or link id"
                )
            devs, lks = set(), owner
        return alg.blast_radius(g, entity, links, services, failed_devices=devs, failed_links=lks)

    def common_upstream(self, entities: Iterable[str], root: str | None = None) -> list[str]:
        targets = sorted({d for e in entities for d in entity_devices(e)})
        if root is None:
            rows = self._read(
                "MATCH (d:Device) WITH d, COUNT { (d)-[:LINKED]-() } AS deg "
                "RETURN d.name AS n ORDER BY deg DESC, n LIMIT 1"
            )
            if not rows:
                return []
            root = str(rows[0]["n"])
        for n in (root, *targets):
            self.device(n)
        if not targets:
            return []
        rows = self._read(
            "MATCH (r:Device {name: $root}) UNWIND $targets AS t MATCH (d:Device {name: t}) "
            "MATCH p = ALL SHORTEST (r)-[:LINKED]-*(d) "
            "RETURN t, [n IN nodes(p) | n.name] AS path",
            root=root,
            targets=targets,
        )
        per_target: dict[str, set[str] | None] = dict.fromkeys(targets)
        depth: dict[str, int] = {}
        for r in rows:
            path = list(r["path"])
            for i, n in enumerate(path):
                depth[n] = i
            cur = per_target[r["t"]]
            per_target[r["t"]] = set(path) if cur is None else cur & set(path)
        common: set[str] | None = None
        for on_path in per_target.values():
            s = on_path or set()
            common = s if common is None else common & s
        return sorted(common or (), key=lambda n: (-depth[n], n))
