"""``netvigil graph``: import a topology, show an entity, compute a blast radius.

The commands work on the store ``graph.url`` names: with ``neo4j://`` they read and write the
server; with the embedded ``memory://`` store (nothing persists between commands) ``show``
and ``blast-radius`` read ``--topology FILE`` (or ``graph.topology``) first.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from netvigil.cli._common import config_option, friendly, main, out, print_table
from netvigil.config import Settings, load_settings
from netvigil.errors import TopologyError
from netvigil.graph.base import TopologyStore, entity_kind
from netvigil.graph.importers import load_topology
from netvigil.service import open_graph

__all__ = ["graph"]

_topology_option = click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Topology file to load first (needed with the embedded memory:// store).",
)


def _store(config_path: str | None, topology: str | None) -> tuple[Settings, TopologyStore]:
    settings = load_settings(config_path)
    store = open_graph(settings)
    source = topology or settings.graph.topology
    if source is not None:
        load_topology(Path(source), store)
    elif settings.graph.url.startswith("memory://"):
        load_topology(None, store)  # the built-in demo backbone
    return settings, store


def _close(store: TopologyStore) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


@main.group()
def graph() -> None:
    """The topology graph: import, inspect, blast radius."""


@graph.command("import")
@config_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--replace", is_flag=True, help="Remove everything in the store first.")
@click.option("--json", "as_json", is_flag=True)
@friendly
def graph_import(config_path: str | None, file: str, replace: bool, as_json: bool) -> None:
    """Import FILE (GraphML, e.g. Topology Zoo, or a YAML inventory) into graph.url."""
    settings = load_settings(config_path)
    store = open_graph(settings)
    try:
        t0 = time.perf_counter()
        if replace:
            store.clear()
        load_topology(Path(file), store)
        took = time.perf_counter() - t0
        summary = {
            "file": file,
            "store": settings.graph.url,
            "devices": len(store.devices()),
            "links": len(store.links()),
            "sites": len(store.sites()),
            "services": len(store.services()),
            "seconds": round(took, 3),
        }
    finally:
        _close(store)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        out.print(
            f"imported {file} into {summary['store']}: {summary['devices']} devices, "
            f"{summary['links']} links, {summary['sites']} sites, {summary['services']} "
            f"services in {summary['seconds']} s"
        )


@graph.command("generate")
@click.option("--devices", type=click.IntRange(12), default=10_000, show_default=True)
@click.option("--core-sites", type=click.IntRange(3), default=10, show_default=True)
@click.option("--services", type=click.IntRange(0), default=500, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="YAML file to write."
)
@friendly
def graph_generate(devices: int, core_sites: int, services: int, seed: int, output: str) -> None:
    """Write a carrier-sized YAML topology: core, aggregation and access tiers, sites,
    dual-homing, bundles and VPN services (netvigil.twin.carrier)."""
    import yaml

    from netvigil.twin.carrier import CarrierSpec, generate

    spec = CarrierSpec(devices=devices, core_sites=core_sites, services=services, seed=seed)
    net = generate(spec)
    Path(output).write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
    out.print(
        f"wrote {output}: {len(net.devices)} devices, {len(net.links)} links "
        f"({2 * len(net.links)} interfaces), {len(net.sites)} sites, {len(net.services)} services"
    )


def _describe(store: TopologyStore, entity: str) -> dict[str, Any]:
    kind = entity_kind(entity)
    if kind == "device":
        try:
            d = store.device(entity)
        except TopologyError:
            try:
                svc = store.service(entity)
            except TopologyError:
                raise TopologyError(
                    f"unknown device or service {entity!r}; interfaces are DEV:IF, links DEVA--DEVB"
                ) from None
            return {
                "kind": "service",
                "name": svc.name,
                "service_kind": svc.kind,
                "links": list(svc.links),
                "devices": list(svc.devices),
                "props": dict(svc.props),
            }
        return {
            "kind": "device",
            "name": d.name,
            "role": d.role,
            "vendor": d.vendor,
            "site": d.site,
            "props": dict(d.props),
            "neighbors": store.neighbors(d.name),
            "links": [
                {
                    "id": lk.id,
                    "interface": lk.end(d.name),
                    "peer": lk.other(d.name),
                    "capacity_bps": lk.capacity_bps,
                    "igp_metric": lk.igp_metric,
                }
                for lk in store.links_of(d.name)
            ],
        }
    if kind == "interface":
        i = store.interface(entity)
        return {"kind": "interface", "id": i.id, "device": i.device, "name": i.name, "link": i.link}
    lk = store.link(entity)
    return {
        "kind": "link",
        "id": lk.id,
        "a": lk.a_if,
        "b": lk.b_if,
        "capacity_bps": lk.capacity_bps,
        "igp_metric": lk.igp_metric,
        "source": lk.source,
        "last_seen": lk.last_seen,
        "props": dict(lk.props),
    }


@graph.command("show")
@config_option
@_topology_option
@click.argument("entity")
@click.option("--json", "as_json", is_flag=True)
@friendly
def graph_show(config_path: str | None, topology: str | None, entity: str, as_json: bool) -> None:
    """Show a device, interface (DEV:IF), link (DEVA--DEVB) or service."""
    _, store = _store(config_path, topology)
    try:
        info = _describe(store, entity)
    finally:
        _close(store)
    if as_json:
        click.echo(json.dumps(info))
        return
    links = info.pop("links", None)
    for k, v in info.items():
        out.print(f"[bold]{k}[/]: {v}")
    if isinstance(links, list) and links and isinstance(links[0], dict):
        table = Table("link", "interface", "peer", "capacity", "metric")
        for lk in links:
            table.add_row(
                lk["id"],
                lk["interface"],
                lk["peer"],
                f"{lk['capacity_bps'] / 1e9:g}G",
                str(lk["igp_metric"]),
            )
        print_table(table)
    elif links:
        out.print(f"[bold]links[/]: {links}")


@graph.command("blast-radius")
@config_option
@_topology_option
@click.argument("entity")
@click.option("--json", "as_json", is_flag=True)
@friendly
def graph_blast_radius(
    config_path: str | None, topology: str | None, entity: str, as_json: bool
) -> None:
    """What fails with ENTITY (a device, interface or link): links, cut-off devices, services."""
    _, store = _store(config_path, topology)
    try:
        br = store.blast_radius(entity)
    finally:
        _close(store)
    data = {
        "entity": br.entity,
        "links": list(br.links),
        "devices": list(br.devices),
        "services": list(br.services),
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    out.print(f"blast radius of {entity}:")
    for k in ("links", "devices", "services"):
        out.print(f"  {k} ({len(data[k])}): {', '.join(data[k]) or '-'}")
