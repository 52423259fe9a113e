"""What ``netvigil run --lab`` changes: the collectors and the topology point at the lab.

:func:`lab_settings` reads the running lab's state, learns the topology by LLDP (a walk of
every router's LLDP-MIB over SNMP), checks it against the lab's plan from the GraphML, writes
the learned topology (capacities and costs from the plan: LLDP carries neither) and returns
the settings with SNMP polling of every router, the syslog, flow and trap collectors on the
lab's management address, and the lab executor. :func:`lab_twin` is the level-3 gate's twin
of the lab (the same topology and demand model as its traffic).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import Settings, SnmpTargetSettings
from netvigil.errors import ConfigError
from netvigil.graph.base import TopologyStore
from netvigil.graph.discovery.lldp import LldpDiscovery
from netvigil.graph.discovery.snmp import walk_lldp
from netvigil.graph.memory import MemoryTopology
from netvigil.lab.plan import LabPlan
from netvigil.lab.state import LabState, lab_dir

__all__ = [
    "LAB_EXECUTORS",
    "POLL_S",
    "discover",
    "lab_executor",
    "lab_settings",
    "lab_twin",
]

LAB_EXECUTORS = ("lab", "lab-ansible")
POLL_S = 10.0


def _state() -> LabState:
    state = LabState.load()
    if state is None:
        raise ConfigError(
            f"no lab is running (no state in {lab_dir()}); start one with "
            "`netvigil lab up --topology FILE`"
        )
    return state


def discover(state: LabState, timeout_s: float = 3.0) -> dict[str, Any]:
    """LLDP over SNMP from every router; the links found, checked against the plan."""

    async def walk_all() -> list[tuple[str, list[Any]] | BaseException]:
        return await asyncio.gather(
            *(
                walk_lldp(r.mgmt, community=state.credentials.community, timeout=timeout_s)
                for r in state.plan.routers
            ),
            return_exceptions=True,
        )

    disc = LldpDiscovery("lldp:snmp")
    silent = []
    for r, got in zip(state.plan.routers, asyncio.run(walk_all()), strict=True):
        if isinstance(got, BaseException):
            silent.append(f"{r.name}: {got}")
            continue
        disc.observe(got[0] or r.name, got[1], ts=0.0)
    found = {
        frozenset((c.link.a_if, c.link.b_if))
        for c in disc.plan(MemoryTopology())
        if c.kind == "added" and c.link is not None
    }
    planned = {frozenset((f"{lk.a}:{lk.a_if}", f"{lk.b}:{lk.b_if}")): lk for lk in state.plan.links}
    return {
        "found": found,
        "missing": sorted(planned[p].id for p in set(planned) - found),
        "extra": sorted(" -- ".join(sorted(p)) for p in found - set(planned)),
        "silent": silent,
        "planned": planned,
    }


def _write_learned(plan: LabPlan, result: dict[str, Any], path: Path) -> None:
    planned = result["planned"]
    links = []
    for pair in sorted(result["found"], key=sorted):
        a_if, b_if = sorted(pair)
        lk = planned.get(pair)
        a, _, a_name = a_if.partition(":")
        b, _, b_name = b_if.partition(":")
        links.append(
            {
                "id": lk.id if lk else f"{a}--{b}",
                "a": a,
                "a_if": a_name,
                "b": b,
                "b_if": b_name,
                "capacity": lk.capacity_bps if lk else 10e6,
                "igp_metric": lk.cost if lk else 10,
            }
        )
    devices = [
        {"name": r.name, "role": "router", "site": r.name, "weight": r.weight} for r in plan.routers
    ]
    path.write_text(yaml.safe_dump({"devices": devices, "links": links}, sort_keys=False))


def lab_settings(settings: Settings, log: Callable[[str], None] | None = None) -> Settings:
    """``settings`` pointed at the running lab (see the module docstring)."""
    say = log or (lambda msg: None)
    state = _state()
    plan = state.plan
    result = discover(state)
    learned = lab_dir() / "topology-lldp.yaml"
    _write_learned(plan, result, learned)
    say(
        f"LLDP found {len(result['found'])} of {len(plan.links)} links of the GraphML"
        + (f"; missing {result['missing']}" if result["missing"] else "")
        + (f"; not in the GraphML {result['extra']}" if result["extra"] else "")
        + (f"; silent {result['silent']}" if result["silent"] else "")
    )
    c = state.credentials
    settings.graph.topology = learned
    settings.snmp.targets = [
        SnmpTargetSettings(
            host=r.mgmt, port=161, device=r.name, version="2c", community=c.community
        )
        for r in plan.routers
    ]
    settings.snmp.interval_s = POLL_S
    settings.snmp.timeout_s = 5.0
    settings.snmp.request_timeout_s = 1.0
    host, _, port = plan.collectors.traps.rpartition(":")
    settings.snmp.traps = True
    settings.snmp.trap_host, settings.snmp.trap_port = host, int(port)
    settings.snmp.trap_communities = [c.community]  # type: ignore[list-item]
    host, _, port = plan.collectors.syslog.rpartition(":")
    settings.syslog.host, settings.syslog.udp_port = host, int(port)
    host, _, port = plan.collectors.flows.rpartition(":")
    settings.flows.host, settings.flows.port = host, int(port)
    if settings.coordinator.executor not in LAB_EXECUTORS:
        settings.coordinator.executor = "lab"
    return settings


def lab_executor(kind: str, data: Path) -> Any:
    """The executor ``coordinator.executor`` names for the lab (``lab`` or ``lab-ansible``)."""
    from netvigil.resolvers.executors.lab import LabAnsibleExecutor, LabExecutor

    def plan() -> LabPlan:
        return _state().plan

    if kind == "lab-ansible":
        return LabAnsibleExecutor(plan, work_dir=data / "ansible")
    return LabExecutor(plan)


def lab_twin(topo: TopologyStore) -> Any:
    """The twin the level-3 gate asks: the lab's topology and seed, no faults."""
    from netvigil.twin.network import TwinNetwork

    state = LabState.load()
    return TwinNetwork(topo, seed=state.seed if state else 7)
