"""Bulk, idempotent writes of topology entities into Neo4j (used by ``Neo4jTopology.load``).

What holds:

- **Checked before anything is written.** Device names, an interface claimed by two links of
  the input, a link end or a service member that is neither in the input nor in the store, an
  interface of the store held by a link the input does not replace: each is a
  :class:`TopologyError` raised before the first transaction, so bad input writes nothing.
- **Bounded transactions.** Rows are written in transactions of at most ``tx_rows`` rows
  (sites, then devices, links, services), each made of ``UNWIND`` statements of
  :data:`BATCH` rows run in a managed write transaction (retried by the driver on transient
  errors). One transaction for a 10,000-device network exceeds Neo4j's transaction memory at
  a 1 GB heap; these do not. The price: a load that fails part way (the server goes away)
  leaves the transactions before it committed; loading the same input again completes it.
- **Idempotent.** Each transaction first reads what the store holds for its rows (indexed
  lookups by key) and writes only the rows that differ; the topology generation is bumped
  only by a transaction that wrote something. Loading the same topology twice writes
  nothing the second time: no node is replaced, the generation (and so every cache keyed by
  it) stays. A changed link is deleted and created again with its interfaces and ``LINKED``
  shortcut; a new one is only created (the graph is new there, so ``CREATE``, not ``MERGE``).
- **An empty store takes the short way.** When the store holds no topology node at all
  (one read of the label counts, kept by Neo4j's count store), nothing can differ and
  nothing can be replaced: the input is checked against itself alone, nothing is read back,
  and each transaction is one ``CREATE`` statement per kind of ``tx_rows`` rows (a 10,000-
  device import: ~20 statements instead of ~250, and no lookups). A second load finds the
  store full and takes the diffing way above, so it still writes nothing. Two loads into
  the same empty store at once: the second's ``CREATE`` of a key the first wrote fails on
  the uniqueness constraint (an error, nothing duplicated); loading again completes it.

Readers see each committed transaction: during a load the graph is partly written (as with
any sequence of ``add_*`` calls), and every transaction bumps the generation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar

import neo4j

from netvigil.errors import TopologyError
from netvigil.graph.base import Device, Link, Service, Site

__all__ = ["BATCH", "TX_ROWS", "Rows", "bulk_load", "chunks", "props", "unprops"]

T = TypeVar("T")

#: rows per UNWIND statement
BATCH = 1000
#: rows per write transaction of a load
TX_ROWS = 5000

BUMP = "MERGE (m:Meta {id: 'topology'}) SET m.generation = coalesce(m.generation, 0) + 1"

#: the stored properties of a Link node (the row has the interface names besides)
_LINK_KEYS = (
    "id",
    "a",
    "b",
    "a_if",
    "b_if",
    "capacity_bps",
    "igp_metric",
    "props",
    "source",
    "last_seen",
)

Work = Callable[[neo4j.ManagedTransaction], Any]
Run = Callable[[str, Work], Any]


def chunks(rows: list[T], n: int = BATCH) -> Iterator[list[T]]:
    it = iter(rows)
    while chunk := list(islice(it, n)):
        yield chunk


def props(p: Mapping[str, str]) -> str:
    return json.dumps(dict(p), sort_keys=True) if p else ""


def unprops(raw: Any) -> dict[str, str]:
    return dict(json.loads(raw)) if raw else {}


def link_row(lk: Link) -> dict[str, Any]:
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
        "props": props(lk.props),
        "source": lk.source,
        "last_seen": lk.last_seen,
    }


def _last(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return list({r[key]: r for r in rows}.values())


class Rows:
    """One load's entities as query rows, checked on their own (no store needed)."""

    def __init__(
        self,
        sites: Iterable[Site],
        devices: Iterable[Device],
        links: Iterable[Link],
        services: Iterable[Service],
    ) -> None:
        self.sites = [{"name": s.name, "region": s.region, "props": props(s.props)} for s in sites]
        self.devices = []
        for d in devices:
            if not d.name or ":" in d.name or "--" in d.name:
                raise TopologyError(
                    f"device name {d.name!r} may not be empty or contain ':' or '--'"
                )
            self.devices.append(
                {
                    "name": d.name,
                    "role": d.role,
                    "vendor": d.vendor,
                    "site": d.site,
                    "weight": float(d.weight),
                    "props": props(d.props),
                }
            )
        self.links = [link_row(lk) for lk in links]
        self.services = [
            {
                "name": s.name,
                "kind": s.kind,
                "links": list(s.links),
                "devices": list(s.devices),
                "props": props(s.props),
            }
            for s in services
        ]
        # a key given twice: the last one counts, as in the embedded store
        self.sites = _last(self.sites, "name")
        self.devices = _last(self.devices, "name")
        self.links = _last(self.links, "id")
        self.services = _last(self.services, "name")
        seen: dict[str, str] = {}
        for r in self.links:
            for end in (r["a_if"], r["b_if"]):
                if seen.setdefault(end, r["id"]) != r["id"]:
                    raise TopologyError(f"interface {end} is already on link {seen[end]}")

    def __bool__(self) -> bool:
        return bool(self.sites or self.devices or self.links or self.services)


_LABELS = ("Site", "Device", "Interface", "Link", "Service")


def _empty(tx: neo4j.ManagedTransaction) -> bool:
    """Whether the store holds no topology node (each count is the count store's)."""
    counts = [
        tx.run(f"MATCH (n:{label}) RETURN count(n) AS n").single(strict=True)["n"]
        for label in _LABELS
    ]
    return not any(counts)


def _unknown_end(link: object, device: object) -> TopologyError:
    return TopologyError(f"link {link} names unknown device {device!r}")


def _unknown_member(what: str, key: object, service: object) -> TopologyError:
    return TopologyError(f"unknown {what} {key!r} (service {service})")


def _check_alone(rows: Rows) -> None:
    """What :func:`_check` asks of an empty store: everything named is in the input."""
    devices = {r["name"] for r in rows.devices}
    for r in rows.links:
        for end in (r["a"], r["b"]):
            if end not in devices:
                raise _unknown_end(r["id"], end)
    links = {r["id"] for r in rows.links}
    for r in rows.services:
        for member, known, what in (("links", links, "link"), ("devices", devices, "device")):
            gone = next((x for x in r[member] if x not in known), None)
            if gone is not None:
                raise _unknown_member(what, gone, r["name"])


def _check(tx: neo4j.ManagedTransaction, rows: Rows) -> None:
    """What the input needs from the store is there (see the module docstring)."""
    have_devs = {r["name"] for r in rows.devices}
    link_ids = {r["id"] for r in rows.links}
    ends = sorted(({r["a"] for r in rows.links} | {r["b"] for r in rows.links}) - have_devs)
    for names in chunks(ends):
        missing = tx.run(
            "UNWIND $names AS n OPTIONAL MATCH (d:Device {name: n}) "
            "WITH n, d WHERE d IS NULL RETURN n LIMIT 1",
            names=names,
        ).single()
        if missing:
            bad = missing["n"]
            lk = next(r["id"] for r in rows.links if bad in (r["a"], r["b"]))
            raise _unknown_end(lk, bad)
    pairs = [{"if": r[e], "link": r["id"]} for r in rows.links for e in ("a_if", "b_if")]
    for part in chunks(pairs):
        held = tx.run(
            "UNWIND $ends AS e MATCH (i:Interface {id: e.if}) WHERE i.link <> e.link "
            "RETURN i.id AS id, i.link AS link",
            ends=part,
        )
        for h in held:
            if h["link"] not in link_ids:
                raise TopologyError(f"interface {h['id']} is already on link {h['link']}")
    for member, label, key, what in (
        ("links", "Link", "id", "link"),
        ("devices", "Device", "name", "device"),
    ):
        known = link_ids if member == "links" else have_devs
        wanted = sorted({x for r in rows.services for x in r[member]} - known)
        for keys in chunks(wanted):
            gone = tx.run(
                f"UNWIND $keys AS k OPTIONAL MATCH (x:{label} {{{key}: k}}) "
                "WITH k, x WHERE x IS NULL RETURN k LIMIT 1",
                keys=keys,
            ).single()
            if gone:
                svc = next(r["name"] for r in rows.services if gone["k"] in r[member])
                raise _unknown_member(what, gone["k"], svc)


# ------------------------------------------------------------------ per kind: diff, write


def _changed_sites(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> list[Any]:
    have = {
        r["k"]: r["v"]
        for r in tx.run(
            "UNWIND $names AS n MATCH (s:Site {name: n}) RETURN n AS k, s {.region, .props} AS v",
            names=[r["name"] for r in rows],
        )
    }
    return [r for r in rows if have.get(r["name"]) != {"region": r["region"], "props": r["props"]}]


def _write_sites(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    tx.run(
        "UNWIND $rows AS r MERGE (s:Site {name: r.name}) "
        "SET s.region = r.region, s.props = r.props",
        rows=rows,
    ).consume()


def _changed_devices(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> list[Any]:
    have = {
        r["k"]: r
        for r in tx.run(
            "UNWIND $names AS n MATCH (d:Device {name: n}) "
            "RETURN n AS k, d {.role, .vendor, .site, .weight, .props} AS v, "
            "COLLECT { MATCH (d)-[:AT]->(s) RETURN s.name } AS at, "
            "EXISTS { MATCH (s:Site {name: d.site}) } AS site_known",
            names=[r["name"] for r in rows],
        )
    }
    out = []
    for r in rows:
        h = have.get(r["name"])
        want = {k: r[k] for k in ("role", "vendor", "site", "weight", "props")}
        if h is None or h["v"] != want or h["at"] != ([r["site"]] if h["site_known"] else []):
            out.append(r)
    return out


def _write_devices(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    tx.run(
        "UNWIND $rows AS r MERGE (d:Device {name: r.name}) "
        "SET d.role = r.role, d.vendor = r.vendor, d.site = r.site, "
        "d.weight = r.weight, d.props = r.props "
        "WITH d OPTIONAL MATCH (d)-[old:AT]->() DELETE old "
        "WITH d OPTIONAL MATCH (s:Site {name: d.site}) "
        "FOREACH (_ IN CASE WHEN s IS NULL THEN [] ELSE [1] END | "
        "  MERGE (d)-[:AT]->(s))",
        rows=rows,
    ).consume()


_CREATE_LINKS = (
    "UNWIND $rows AS r "
    "MATCH (a:Device {name: r.a}) MATCH (b:Device {name: r.b}) "
    "CREATE (l:Link {id: r.id, a: r.a, b: r.b, a_if: r.a_if, b_if: r.b_if, "
    "  capacity_bps: r.capacity_bps, igp_metric: r.igp_metric, props: r.props, "
    "  source: r.source, last_seen: r.last_seen}) "
    "CREATE (a)-[:HAS]->(:Interface {id: r.a_if, name: r.a_name, device: r.a, "
    "  link: r.id})-[:CONNECTS]->(l) "
    "CREATE (b)-[:HAS]->(:Interface {id: r.b_if, name: r.b_name, device: r.b, "
    "  link: r.id})-[:CONNECTS]->(l) "
    "CREATE (a)-[:LINKED {link: r.id, metric: r.igp_metric}]->(b)"
)


def _changed_links(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> list[Any]:
    have = {
        r["k"]: r["v"]
        for r in tx.run(
            "UNWIND $ids AS id MATCH (l:Link {id: id}) RETURN id AS k, l {.*} AS v",
            ids=[r["id"] for r in rows],
        )
    }
    out = []
    for r in rows:
        h = have.get(r["id"])
        if h is None or any(h.get(k) != r[k] for k in _LINK_KEYS):
            r = {**r, "new": h is None}
            out.append(r)
    return out


def delete_links(tx: neo4j.ManagedTransaction, ids: list[str]) -> None:
    """Links, their interfaces and their LINKED shortcut, by id (unknown ids: nothing)."""
    tx.run(
        "UNWIND $ids AS id MATCH (l:Link {id: id}) "
        "OPTIONAL MATCH (l)<-[:CONNECTS]-(i:Interface) DETACH DELETE l, i",
        ids=ids,
    ).consume()
    tx.run("UNWIND $ids AS id MATCH ()-[r:LINKED {link: id}]->() DELETE r", ids=ids).consume()


def _write_links(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    old = [r["id"] for r in rows if not r["new"]]
    if old:
        delete_links(tx, old)
    # an interface this input moves from another link it also replaces (checked before)
    tx.run(
        "UNWIND $ifs AS id MATCH (i:Interface {id: id}) DETACH DELETE i",
        ifs=[r[e] for r in rows for e in ("a_if", "b_if")],
    ).consume()
    tx.run(_CREATE_LINKS, rows=rows).consume()


def _changed_services(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> list[Any]:
    have = {
        r["k"]: r
        for r in tx.run(
            "UNWIND $names AS n MATCH (s:Service {name: n}) "
            "RETURN n AS k, s {.kind, .props} AS v, "
            "COLLECT { MATCH (s)-[:TRAVERSES]->(l) RETURN l.id } AS links, "
            "COLLECT { MATCH (s)-[:DEPENDS_ON]->(d) RETURN d.name } AS devices",
            names=[r["name"] for r in rows],
        )
    }
    out = []
    for r in rows:
        h = have.get(r["name"])
        if (
            h is None
            or h["v"] != {"kind": r["kind"], "props": r["props"]}
            or set(h["links"]) != set(r["links"])
            or set(h["devices"]) != set(r["devices"])
        ):
            out.append(r)
    return out


def _write_services(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
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


# ------------------------------------------------------------------ an empty store: create


def _create_sites(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    tx.run(
        "UNWIND $rows AS r CREATE (:Site {name: r.name, region: r.region, props: r.props})",
        rows=rows,
    ).consume()


def _create_devices(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    tx.run(
        "UNWIND $rows AS r CREATE (d:Device {name: r.name, role: r.role, vendor: r.vendor, "
        "  site: r.site, weight: r.weight, props: r.props}) "
        "WITH d, r MATCH (s:Site {name: r.site}) CREATE (d)-[:AT]->(s)",
        rows=rows,
    ).consume()


def _create_links(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    tx.run(_CREATE_LINKS, rows=rows).consume()


def _create_services(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    # a member named twice is one relationship, as MERGE makes it on the diffing way
    rows = [
        {
            **r,
            "links": list(dict.fromkeys(r["links"])),
            "devices": list(dict.fromkeys(r["devices"])),
        }
        for r in rows
    ]
    tx.run(
        "UNWIND $rows AS r CREATE (s:Service {name: r.name, kind: r.kind, props: r.props}) "
        "WITH s, r "
        "CALL (s, r) { UNWIND r.links AS lid MATCH (l:Link {id: lid}) "
        "  CREATE (s)-[:TRAVERSES]->(l) } "
        "CALL (s, r) { UNWIND r.devices AS dn MATCH (d:Device {name: dn}) "
        "  CREATE (s)-[:DEPENDS_ON]->(d) }",
        rows=rows,
    ).consume()


_CREATE = {
    "sites": _create_sites,
    "devices": _create_devices,
    "links": _create_links,
    "services": _create_services,
}

_KINDS = (
    ("sites", _changed_sites, _write_sites),
    ("devices", _changed_devices, _write_devices),
    ("links", _changed_links, _write_links),
    ("services", _changed_services, _write_services),
)


def bulk_load(run: Run, rows: Rows, tx_rows: int = TX_ROWS) -> int:
    """Write ``rows`` (see the module docstring); returns how many rows were written."""
    if not rows:
        return 0
    if run("read", _empty):
        return _create_all(run, rows, tx_rows)
    run("read", lambda tx: _check(tx, rows))
    written = 0
    for kind, changed, write in _KINDS:
        for part in chunks(getattr(rows, kind), max(1, tx_rows)):

            def work(
                tx: neo4j.ManagedTransaction,
                part: list[dict[str, Any]] = part,
                changed: Callable[..., list[Any]] = changed,
                write: Callable[..., None] = write,
            ) -> int:
                todo = [r for batch in chunks(part) for r in changed(tx, batch)]
                for batch in chunks(todo):
                    write(tx, batch)
                if todo:
                    tx.run(BUMP).consume()
                return len(todo)

            written += int(run("write", work))
    return written


def _create_all(run: Run, rows: Rows, tx_rows: int) -> int:
    """Write ``rows`` into an empty store: checked against themselves, then created."""
    _check_alone(rows)
    for kind, create in _CREATE.items():
        for part in chunks(getattr(rows, kind), max(1, tx_rows)):

            def work(
                tx: neo4j.ManagedTransaction,
                part: list[dict[str, Any]] = part,
                create: Callable[..., None] = create,
            ) -> None:
                create(tx, part)
                tx.run(BUMP).consume()

            run("write", work)
    return len(rows.sites) + len(rows.devices) + len(rows.links) + len(rows.services)
