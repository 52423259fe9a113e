"""The twin's services wired into a service run: their specs from settings, their SLOs added to
the pipeline's, probes attached to the twin's clock, faults pinned to a service's path.

Used by the service (``twin.services`` in the settings) and by the evaluation harness's
cross-domain scenarios (:mod:`netvigil.eval.crossdomain`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import Settings, SloSettings
from netvigil.errors import ConfigError
from netvigil.graph.base import TopologyStore
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.services import ServiceSpec, TwinServices, load_services
from netvigil.twin.source import TwinSource

__all__ = [
    "attach_services",
    "faults_on_path",
    "prepare",
    "service_specs",
    "slo_settings",
    "twin_service_specs",
]


def service_specs(raw: Sequence[Mapping[str, Any]], topo: TopologyStore) -> list[ServiceSpec]:
    return load_services(raw, {d.name for d in topo.devices()})


def faults_on_path(
    faults: list[Fault], topo: TopologyStore, spec: ServiceSpec, seed: int
) -> list[Fault]:
    """The faults moved onto links of ``spec``'s path (as routed before any fault), drawn
    with ``seed``: the ground truth is then a link the service's traffic crosses."""
    net = TwinNetwork(topo, seed=seed)
    t = faults[0].start if faults else 0.0
    links: set[str] = set()
    for c in spec.clients:
        links |= set(net.path_state(c, spec.runs_on, t).links)
    pool = sorted(links)
    if not pool:
        return faults
    rng = random.Random(f"on-path:{seed}")  # not Random(seed): small seeds draw alike here
    return [replace(f, target=rng.choice(pool)) for f in faults]


def slo_settings(specs: Sequence[ServiceSpec]) -> list[SloSettings]:
    return [SloSettings(**asdict(s)) for spec in specs for s in spec.slos]


def twin_service_specs(settings: Settings, topo: TopologyStore) -> list[ServiceSpec]:
    """The services of ``twin.services`` (a YAML file), their SLOs added to the settings'."""
    if settings.twin.services is None:
        return []
    path = Path(settings.twin.services)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"twin.services = {path}: {exc}") from None
    items = raw.get("services") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"twin.services = {path}: needs a 'services' list")
    specs = service_specs(items, topo)
    prepare(settings, specs)
    return specs


def attach_services(
    twin: TwinSource, topo: TopologyStore, specs: list[ServiceSpec], *, seed: int
) -> TwinServices:
    """Run ``specs`` on the twin: probed after every twin step, stopped at its end."""
    services = TwinServices(specs, twin.network, topo, clock=lambda: twin.now, seed=seed)
    services.sync_graph(twin.start)  # in the graph before the first anomaly arrives
    twin.async_step_hooks.append(services.on_step)
    twin.closers.append(services.stop)
    return services


def prepare(settings: Settings, specs: list[ServiceSpec]) -> None:
    """Track the services' SLOs in the pipeline (added to any configured already)."""
    settings.services.slos = [*settings.services.slos, *slo_settings(specs)]
