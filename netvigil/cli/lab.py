"""``netvigil lab``: a real routed network on this machine (FRRouting in namespaces)."""

from __future__ import annotations

import json

import click

from netvigil.cli._common import friendly, main, out

__all__ = ["lab"]


@main.group()
def lab() -> None:
    """A real routed network on this machine: FRRouting routers in namespaces (root).

    Each router runs in a Linux network namespace with snmpd, lldpd and a flow exporter;
    the lab carries traffic and takes faults with ground truth."""


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


@lab.command("fault")
@click.argument("kind")
@click.argument("target")
@click.option(
    "--duration",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds the fault lasts; then it is cleared.",
)
@click.option(
    "--from",
    "direction",
    default="",
    help="congestion, growth_ramp: the link's end the extra traffic leaves.",
)
@click.option(
    "--to", default="", help="growth_ramp: the router the demand goes to (default: chosen)."
)
@friendly
def lab_fault(kind: str, target: str, duration: float, direction: str, to: str) -> None:
    """Inject a fault on the running lab for DURATION seconds, then clear it (ground truth in
    faults.jsonl). KIND: link_down, link_loss, congestion, node_down, routing_crash,
    mtu_mismatch, cost_misconfig, flapping, growth_ramp (a demand across the link growing
    to its capacity over DURATION); TARGET: a link (A--B) or a router."""
    import time

    from netvigil.lab.faults import LabFault, clear, inject
    from netvigil.lab.state import LabState
    from netvigil.lab.system import LabError

    state = LabState.load()
    if state is None:
        raise LabError("no lab is running; start one with `netvigil lab up --topology FILE`")
    f = LabFault(kind, target, time.time(), duration, direction, to)
    try:
        inject(state, f)
    except KeyError as exc:
        raise LabError(str(exc).strip('"')) from None
    out.print(f"injected {kind} on {target}; clearing in {duration:.0f} s (Ctrl-C clears now)")
    try:
        time.sleep(duration)
    except KeyboardInterrupt:
        pass
    finally:
        clear(LabState.load() or state, f)
        out.print(f"cleared {kind} on {target}")


@lab.command("faults")
@click.option("--count", type=click.IntRange(1), default=8, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--interval",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds from one fault's start to the next.",
)
@click.option("--duration", type=float, default=60.0, show_default=True)
@click.option(
    "--kinds",
    default=",".join(
        [
            "link_down",
            "congestion",
            "node_down",
            "link_loss",
            "routing_crash",
            "mtu_mismatch",
            "cost_misconfig",
            "flapping",
        ]
    ),
    show_default=True,
)
@friendly
def lab_faults(count: int, seed: int, interval: float, duration: float, kinds: str) -> None:
    """Run a schedule of faults on the lab (one at a time), logging the ground truth."""
    import time

    from netvigil.lab.faults import schedule
    from netvigil.lab.state import LabState
    from netvigil.lab.system import LabError

    state = LabState.load()
    if state is None:
        raise LabError("no lab is running; start one with `netvigil lab up --topology FILE`")
    plan = schedule(
        state.plan,
        kinds=kinds.split(","),
        count=count,
        first=time.time() + 5,
        interval=interval,
        duration=duration,
        seed=seed,
    )
    from netvigil.lab.faults import run_schedule

    run_schedule(plan, lambda what, f: out.print(f"{what} {f.kind} on {f.target}"))
