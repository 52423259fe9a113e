"""``netvigil lab``: a real routed network on this machine (FRRouting in namespaces)."""

from __future__ import annotations

import json

import click

from netvigil.cli._common import friendly, main, out

__all__ = ["lab"]


@main.group()
def lab() -> None:
    """A real routed network on this machine: FRRouting routers, snmpd, lldpd and flow
    exporters in Linux network namespaces, with traffic and faults (needs root)."""


@lab.command("up")
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    required=True,
    help="Topology (GraphML, e.g. from the Topology Zoo, or a YAML inventory).",
)
@click.option("--max-routers", type=click.IntRange(2), default=None, help="Build at most N.")
@click.option("--seed", type=int, default=7, show_default=True, help="Traffic seed.")
@click.option("--no-traffic", is_flag=True, help="Do not start the traffic generator.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON when up.")
@friendly
def lab_up(
    topology: str, max_routers: int | None, seed: int, no_traffic: bool, as_json: bool
) -> None:
    """Build the lab: one namespace per router, a shaped veth pair per link, FRRouting
    (OSPF, BGP on a few edge routers), snmpd + lldpd, softflowd, and traffic."""
    from netvigil.lab.runner import status, up

    state = up(
        topology,
        max_routers=max_routers,
        seed=seed,
        traffic=not no_traffic,
        log=None if as_json else (lambda msg: out.print(msg)),
    )
    st = status(state)
    if as_json:
        click.echo(json.dumps(st))
        return
    out.print(
        f"lab up in {state.ready_s:.1f} s: {len(st['routers'])} routers, "
        f"{len(st['links'])} links, OSPF Full everywhere; {st['capacity_note']}"
    )
    raised = [lk["id"] for lk in st["links"] if lk["raised"]]
    if raised:
        out.print(f"raised to the minimum rate: {', '.join(raised)}")
    c = st["collectors"]
    out.print(
        f"collectors: syslog {c['syslog']['udp']}, flows {c['flows']['udp']} (IPFIX), "
        f"traps {c['traps']['udp']}; `netvigil lab status --json` lists everything"
    )


@lab.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly
def lab_status(as_json: bool) -> None:
    """The running lab: routers, namespaces, interfaces and peers, SNMP agents, collectors."""
    from netvigil.lab.runner import status

    st = status()
    if as_json:
        click.echo(json.dumps(st))
        return
    if not st["running"]:
        out.print("no lab is running (`netvigil lab up --topology FILE`)")
        return
    for r in st["routers"]:
        ifs = ", ".join(
            f"{i['name']} {i['address']} -> {i['peer']}:{i['peer_interface']}"
            for i in r["interfaces"]
        )
        out.print(f"{r['name']} ({r['netns']}, snmp {r['snmp']['host']}): {ifs}")
    out.print(f"{st['processes']['running']}/{st['processes']['recorded']} processes running")


@lab.command("down")
@click.option("--json", "as_json", is_flag=True)
@friendly
def lab_down(as_json: bool) -> None:
    """Remove every namespace, link and process the lab created (by PID)."""
    from netvigil.lab.runner import down

    res = down()
    if as_json:
        click.echo(json.dumps(res))
        return
    out.print(
        f"lab down: {res['stopped']} processes stopped, "
        f"{len(res['netns_removed'])} namespaces removed"
        + (f"; still running: {res['still_running']}" if res["still_running"] else "")
    )
