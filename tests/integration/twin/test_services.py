"""The twin's services over real HTTP on loopback: their errors and latency follow the twin's
path loss and delay, the project's probes measure them, and the graph follows routing."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession

from netvigil.collectors.probes import run_check
from netvigil.config import Settings
from netvigil.errors import ConfigError
from netvigil.events import Metric
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.service_setup import twin_service_specs
from netvigil.twin.services import TXN_PACKETS, TwinServices, load_services
from netvigil.twin.source import SIM_EPOCH

pytestmark = pytest.mark.integration

T0 = 1_767_571_200.0
SPECS = [
    {"name": "shop", "runs_on": "edge1", "clients": ["edge3"], "depends_on": ["orders"]},
    {"name": "orders", "runs_on": "edge2", "clients": ["edge1"]},
]
LOSSY = "core1--edge1"  # on shop's path (edge3 -> core3 -> core1 -> edge1)


@pytest.fixture
async def twin() -> AsyncIterator[tuple[TwinServices, list[float]]]:
    topo = MemoryTopology()
    load_topology(None, topo)
    faults = [
        Fault("packet_loss", LOSSY, T0 + 600, T0 + 1200, 0.05),
        Fault("link_down", "core3--edge3", T0 + 1800, T0 + 2400),
    ]
    net = TwinNetwork(topo, faults, seed=3)
    now = [T0]
    specs = load_services(SPECS, {d.name for d in topo.devices()})
    services = TwinServices(specs, net, topo, clock=lambda: now[0], seed=3)
    net.step(T0)
    await services.start()
    yield services, now
    await services.stop()


async def sample(services: TwinServices, n: int) -> tuple[float, float]:
    """Failure share and median latency (ms) of ``n`` real requests to shop from edge3."""
    target = services.prober.targets[0]
    assert target.service == "shop" and target.device == "edge3"
    results = []
    async with ClientSession() as session:  # 10 at a time, as the twin's own prober runs them
        for _ in range(0, n, 10):
            results += await asyncio.gather(*(run_check(target, session) for _ in range(10)))
    ok = [r.latency_ms for r in results if r.ok]
    # every failure is the server's modelled 503, never a timeout of an overloaded test host
    assert all(r.detail == "status 503" for r in results if not r.ok)
    return 1 - len(ok) / len(results), statistics.median(ok)


async def test_clean_network_serves_every_request_after_the_path_delay(
    twin: tuple[TwinServices, list[float]],
) -> None:
    services, now = twin
    h = services.health("shop", "edge3", now[0])
    assert h.failure == 0.0 and LOSSY in h.links
    fail, median_ms = await sample(services, 30)
    assert fail == 0.0
    assert median_ms >= h.latency_ms  # slept for real, measured by the probe's own clock


async def test_loss_on_the_path_fails_requests_at_the_modelled_rate(
    twin: tuple[TwinServices, list[float]],
) -> None:
    services, now = twin
    now[0] = T0 + 700
    h = services.health("shop", "edge3", now[0])
    # 5 % each way on the lossy link, for shop's own transaction and orders' (edge1 -> edge2
    # splits over two equal-cost paths, one of them through the lossy link)
    own = 1 - 0.95**TXN_PACKETS
    assert own < h.failure < 1.0
    n = 400
    fail, _ = await sample(services, n)
    sigma = (h.failure * (1 - h.failure) / n) ** 0.5
    assert abs(fail - h.failure) < 4 * sigma  # binomial: four standard deviations
    off = services.health("orders", "edge1", T0)
    assert off.failure == 0.0


async def test_unknown_service_or_client_is_a_404(twin: tuple[TwinServices, list[float]]) -> None:
    services, _ = twin
    bad = services.prober.targets[0]
    r = await run_check(replace(bad, target=services.url("nope", "edge3")))
    assert not r.ok and r.detail == "status 404"
    r = await run_check(replace(bad, target=services.url("shop", "core1")))
    assert not r.ok and r.detail == "status 404"


async def test_graph_service_follows_routing(twin: tuple[TwinServices, list[float]]) -> None:
    services, _ = twin
    topo = services.topo
    assert services.sync_graph(T0) == 2
    before = topo.service("shop")
    assert "core3--edge3" in before.links and before.props["depends_on"] == "orders"
    assert services.sync_graph(T0 + 60) == 0  # nothing moved, nothing written
    # edge3's primary uplink fails: shop's traffic moves to core4--edge3
    assert services.sync_graph(T0 + 1900) >= 1
    after = topo.service("shop")
    assert "core3--edge3" not in after.links and "core4--edge3" in after.links
    assert "shop" in topo.blast_radius("core4--edge3").services


def test_service_specs_are_checked() -> None:
    devices = {"edge1", "edge2"}
    with pytest.raises(ConfigError, match="unknown devices"):
        load_services([{"name": "a", "runs_on": "edge9", "clients": ["edge1"]}], devices)
    with pytest.raises(ConfigError, match="unknown services"):
        load_services(
            [{"name": "a", "runs_on": "edge1", "clients": ["edge2"], "depends_on": ["b"]}],
            devices,
        )
    with pytest.raises(ConfigError, match="malformed"):
        load_services([{"name": "a"}], devices)


async def test_run_with_twin_services_from_settings(tmp_path: Path) -> None:
    """``twin.services`` in the settings: served, probed each twin step, SLOs tracked."""
    spec_file = tmp_path / "services.yaml"
    spec_file.write_text(
        yaml.safe_dump(
            {"services": [{**SPECS[1], "slos": [{"objective": 0.99, "window_s": 86400}]}]}
        )
    )
    settings = Settings()
    settings.twin.services = spec_file
    settings.twin.step_s = 60
    plan = TwinPlan(speed=0.0, faults=[], until=SIM_EPOCH + 240)
    svc = Service.build(settings, twin=plan, data_dir=tmp_path / "data")
    seen: list[Metric] = []
    svc.runtime.listen(
        "netvigil.metrics",
        lambda _t, e: seen.append(e) if isinstance(e, Metric) and e.name == "probe.success" else 0,
    )
    await svc.run()
    svc.close()
    assert [s.service for s in settings.services.slos] == ["orders"]
    assert len(seen) == 5 * 10  # 5 steps x 10 requests, all answered
    assert all(m.value == 1.0 and m.labels["service"] == "orders" for m in seen)
    assert svc.topology.service("orders").props["runs_on"] == "edge2"


def test_twin_services_file_errors(tmp_path: Path) -> None:
    settings = Settings()
    settings.twin.services = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match=r"twin\.services"):
        twin_service_specs(settings, load_topology(None))
    (tmp_path / "bad.yaml").write_text("services: 3\n")
    settings.twin.services = tmp_path / "bad.yaml"
    with pytest.raises(ConfigError, match="'services' list"):
        twin_service_specs(settings, load_topology(None))
