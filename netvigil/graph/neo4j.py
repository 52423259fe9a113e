"""The Neo4j topology store (``neo4j://HOST:PORT`` or ``bolt://HOST:PORT``).

Schema (one uniqueness constraint per key, indexes on what queries filter by)::

    (:Site {name})<-[:AT]-(:Device {name, role, vendor, site, weight})
    (:Device)-[:HAS]->(:Interface {id, name, device, link})-[:CONNECTS]->(:Link {id, ...})
    (:Device)-[:LINKED {link, metric}]->(:Device)          one per link, for traversals
    (:Service {name, kind})-[:TRAVERSES]->(:Link), (:Service)-[:DEPENDS_ON]->(:Device)
    (:Meta {id: 'topology', generation})                   bumped by every write

``LINKED`` duplicates what ``HAS``/``CONNECTS`` say so that neighbourhood and path queries walk
one relationship per hop instead of four. Writes are batched ``UNWIND`` statements in managed
transactions, which the official driver retries on transient errors (deadlocks, leader
changes, a dropped connection) for up to ``retry_s``; what still fails becomes a
:class:`GraphUnavailable` naming the server and the fix. Neighbours, hop counts, the k-hop
subgraph, blast-radius services and the common upstream (``ALL SHORTEST`` paths) are Cypher;
IGP-weighted routes and cut-off devices run on an adjacency snapshot read in one query and
cached per generation (community Neo4j has no weighted shortest path or connected components
without plugins; see :mod:`netvigil.graph.algorithms`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
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
from netvigil.redaction import redact_urls

__all__ = ["BATCH", "GraphUnavailable", "Neo4jTopology"]

T = TypeVar("T")

#: rows per UNWIND statement
BATCH = 1000

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

_BUMP = "MERGE (m:Meta {id: 'topology'}) SET m.generation = coalesce(m.generation, 0) + 1"


def _chunks(rows: list[T], n: int = BATCH) -> Iterator[list[T]]:
    it = iter(rows)
    while chunk := list(islice(it, n)):
        yield chunk


def _props(p: Mapping[str, str]) -> str:
    return json.dumps(dict(p), sort_keys=True) if p else ""


def _unprops(raw: Any) -> dict[str, str]:
    return dict(json.loads(raw)) if raw else {}


def _device(n: Mapping[str, Any]) -> Device:
    return Device(
        name=n["name"],
        role=n.get("role") or "",
        vendor=n.get("vendor") or "",
        site=n.get("site") or "",
        weight=float(n.get("weight", 1.0)),
        props=_unprops(n.get("props")),
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
        props=_unprops(n.get("props")),
        source=n.get("source") or "",
        last_seen=n.get("last_seen"),
    )


def _link_row(lk: Link) -> dict[str, Any]:
    return {
        "id": lk.id,
        "a": lk.a,
        "b": lk.b,
        "a_if": lk.a_if,
        "b_if": lk.b_if,
        "a_name": lk.a_if.partition(":")[2],
        "b_name": lk.b_if.partition(":")[2],
        "capacity_bps": float(lk.capacity_bps),
        "igp_metric": int(lk.igp_metric),
        "props": _props(lk.props),
        "source": lk.source,
        "last_seen": lk.last_seen,
    }


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
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("neo4j", "bolt", "neo4j+s", "bolt+s") or not parts.netloc:
            raise TopologyError(f"graph url {redact_urls(url)!r} is not like neo4j://HOST:PORT")
        self.url = url
        self.database = database
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
            tx.run(_BUMP).consume()

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
        site_rows = [{"name": s.name, "region": s.region, "props": _props(s.props)} for s in sites]
        dev_rows = []
        for d in devices:
            if not d.name or ":" in d.name or "--" in d.name:
                raise TopologyError(
                    f"device name {d.name!r} may not be empty or contain ':' or '--'"
                )
            dev_rows.append(
                {
                    "name": d.name,
                    "role": d.role,
                    "vendor": d.vendor,
                    "site": d.site,
                    "weight": float(d.weight),
                    "props": _props(d.props),
                }
            )
        link_rows = [_link_row(lk) for lk in links]
        svc_rows = [
            {
                "name": s.name,
                "kind": s.kind,
                "links": list(s.links),
                "devices": list(s.devices),
                "props": _props(s.props),
            }
            for s in services
        ]
        if not (site_rows or dev_rows or link_rows or svc_rows):
            return

        def work(tx: neo4j.ManagedTransaction) -> None:
            for site_chunk in _chunks(site_rows):
                tx.run(
                    "UNWIND $rows AS r MERGE (s:Site {name: r.name}) "
                    "SET s.region = r.region, s.props = r.props",
                    rows=site_chunk,
                ).consume()
            for dev_chunk in _chunks(dev_rows):
                tx.run(
                    "UNWIND $rows AS r MERGE (d:Device {name: r.name}) "
                    "SET d.role = r.role, d.vendor = r.vendor, d.site = r.site, "
                    "d.weight = r.weight, d.props = r.props "
                    "WITH d OPTIONAL MATCH (d)-[old:AT]->() DELETE old "
                    "WITH d OPTIONAL MATCH (s:Site {name: d.site}) "
                    "FOREACH (_ IN CASE WHEN s IS NULL THEN [] ELSE [1] END | "
                    "  MERGE (d)-[:AT]->(s))",
                    rows=dev_chunk,
                ).consume()
            for link_chunk in _chunks(link_rows):
                self._upsert_links(tx, link_chunk)
            for svc_chunk in _chunks(svc_rows):
                self._upsert_services(tx, svc_chunk)

        self._write(work)

    @staticmethod
    def _upsert_links(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
        names = sorted({r["a"] for r in rows} | {r["b"] for r in rows})
        missing = tx.run(
            "UNWIND $names AS n OPTIONAL MATCH (d:Device {name: n}) "
            "WITH n, d WHERE d IS NULL RETURN collect(n) AS missing",
            names=names,
        ).single()
        if missing and missing["missing"]:
            bad = missing["missing"][0]
            lk = next(r["id"] for r in rows if bad in (r["a"], r["b"]))
            raise TopologyError(f"link {lk} names unknown device {bad!r}")
        ends = [{"if": r["a_if"], "link": r["id"]} for r in rows]
        ends += [{"if": r["b_if"], "link": r["id"]} for r in rows]
        clash = tx.run(
            "UNWIND $ends AS e MATCH (i:Interface {id: e.if}) WHERE i.link <> e.link "
            "AND NOT i.link IN $ids RETURN i.id AS id, i.link AS link LIMIT 1",
            ends=ends,
            ids=[r["id"] for r in rows],
        ).single()
        if clash:
            raise TopologyError(f"interface {clash['id']} is already on link {clash['link']}")
        seen: dict[str, str] = {}
        for e in ends:
            if seen.setdefault(e["if"], e["link"]) != e["link"]:
                raise TopologyError(f"interface {e['if']} is already on link {seen[e['if']]}")
        Neo4jTopology._delete_links(tx, [r["id"] for r in rows])
        tx.run(
            "UNWIND $rows AS r "
            "MATCH (a:Device {name: r.a}) MATCH (b:Device {name: r.b}) "
            "CREATE (l:Link {id: r.id, a: r.a, b: r.b, a_if: r.a_if, b_if: r.b_if, "
            "  capacity_bps: r.capacity_bps, igp_metric: r.igp_metric, props: r.props, "
            "  source: r.source, last_seen: r.last_seen}) "
            "CREATE (a)-[:HAS]->(:Interface {id: r.a_if, name: r.a_name, device: r.a, "
            "  link: r.id})-[:CONNECTS]->(l) "
            "CREATE (b)-[:HAS]->(:Interface {id: r.b_if, name: r.b_name, device: r.b, "
            "  link: r.id})-[:CONNECTS]->(l) "
            "CREATE (a)-[:LINKED {link: r.id, metric: r.igp_metric}]->(b)",
            rows=rows,
        ).consume()

    @staticmethod
    def _upsert_services(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
        check = tx.run(
            "UNWIND $rows AS r "
            "UNWIND r.links AS lid OPTIONAL MATCH (l:Link {id: lid}) "
            "WITH r, lid, l WHERE l IS NULL RETURN r.name AS svc, lid AS missing LIMIT 1",
            rows=rows,
        ).single()
        if check:
            raise TopologyError(f"unknown link {check['missing']!r} (service {check['svc']})")
        check = tx.run(
            "UNWIND $rows AS r "
            "UNWIND r.devices AS dn OPTIONAL MATCH (d:Device {name: dn}) "
            "WITH r, dn, d WHERE d IS NULL RETURN r.name AS svc, dn AS missing LIMIT 1",
            rows=rows,
        ).single()
        if check:
            raise TopologyError(f"unknown device {check['missing']!r} (service {check['svc']})")
        tx.run(
            "UNWIND $rows AS r MERGE (s:Service {name: r.name}) "
            "SET s.kind = r.kind, s.props = r.props "
            "WITH s, r OPTIONAL MATCH (s)-[old:TRAVERSES|DEPENDS_ON]->() DELETE old "
            "WITH DISTINCT s, r "
            "CALL (s, r) { UNWIND r.links AS lid MATCH (l:Link {id: lid}) "
            "  MERGE (s)-[:TRAVERSES]->(l) } "
            "CALL (s, r) { UNWIND r.devices AS dn MATCH (d:Device {name: dn}) "
            "  MERGE (s)-[:DEPENDS_ON]->(d) }",
            rows=rows,
        ).consume()

    @staticmethod
    def _delete_links(tx: neo4j.ManagedTransaction, ids: list[str]) -> None:
        """Links, their interfaces and their LINKED shortcut, by id (unknown ids: nothing)."""
        tx.run(
            "UNWIND $ids AS id MATCH (l:Link {id: id}) "
            "OPTIONAL MATCH (l)<-[:CONNECTS]-(i:Interface) DETACH DELETE l, i",
            ids=ids,
        ).consume()
        tx.run("UNWIND $ids AS id MATCH ()-[r:LINKED {link: id}]->() DELETE r", ids=ids).consume()

    def remove_link(self, link_id: str) -> None:
        self._write(lambda tx: self._delete_links(tx, [link_id]))

    def clear(self) -> None:
        def work(tx: neo4j.ManagedTransaction) -> None:
            # the topology only: the entity locks kept beside it (NvLock*) must survive
            q = "MATCH (n) WHERE NOT (n:Meta OR n:NvLock OR n:NvLockToken) DETACH DELETE n"
            tx.run(q).consume()

        self._write(work)

    def generation(self) -> int:
        rows = self._read("MATCH (m:Meta {id: 'topology'}) RETURN m.generation AS g")
        return int(rows[0]["g"]) if rows else 0

    # -------------------------------------------------------------- lookups

    def sites(self) -> list[Site]:
        rows = self._read("MATCH (s:Site) RETURN s ORDER BY s.name")
        return [
            Site(r["s"]["name"], r["s"].get("region") or "", _unprops(r["s"].get("props")))
            for r in rows
        ]

    def devices(self) -> list[Device]:
        return [_device(r["d"]) for r in self._read("MATCH (d:Device) RETURN d ORDER BY d.name")]

    def links(self) -> list[Link]:
        return [_link(r["l"]) for r in self._read("MATCH (l:Link) RETURN l ORDER BY l.id")]

    def services(self) -> list[Service]:
        rows = self._read(
            "MATCH (s:Service) "
            "RETURN s, COLLECT { MATCH (s)-[:TRAVERSES]->(l) RETURN l.id ORDER BY l.id } AS links, "
            "COLLECT { MATCH (s)-[:DEPENDS_ON]->(d) RETURN d.name ORDER BY d.name } AS devices "
            "ORDER BY s.name"
        )
        return [self._service(r) for r in rows]

    @staticmethod
    def _service(r: neo4j.Record) -> Service:
        return Service(
            name=r["s"]["name"],
            kind=r["s"].get("kind") or "",
            links=tuple(r["links"]),
            devices=tuple(r["devices"]),
            props=_unprops(r["s"].get("props")),
        )

    def site(self, name: str) -> Site:
        rows = self._read("MATCH (s:Site {name: $n}) RETURN s", n=name)
        if not rows:
            raise TopologyError(f"unknown site {name!r}")
        s = rows[0]["s"]
        return Site(s["name"], s.get("region") or "", _unprops(s.get("props")))

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
            "MATCH (s:Service {name: $n}) "
            "RETURN s, COLLECT { MATCH (s)-[:TRAVERSES]->(l) RETURN l.id ORDER BY l.id } AS links, "
            "COLLECT { MATCH (s)-[:DEPENDS_ON]->(d) RETURN d.name ORDER BY d.name } AS devices",
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

        def work(tx: neo4j.ManagedTransaction) -> tuple[int, list[str], list[Link]]:
            g = tx.run("MATCH (m:Meta {id: 'topology'}) RETURN m.generation AS g").single()
            names = [r["n"] for r in tx.run("MATCH (d:Device) RETURN d.name AS n")]
            links = [_link(r["l"]) for r in tx.run("MATCH (l:Link) RETURN l")]
            return (int(g["g"]) if g else 0), names, links

        gen, names, links = self._run("read", work)
        graph = alg.build_graph(names, links)
        by_id = {lk.id: lk for lk in links}
        services = self.services()
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
