"""A storm on the carrier network: which core failure isolates devices (the bench's choice),
and the twin's poller: devices a failure cuts off from it are reported unreachable and go
silent until the failure ends; without a poller nothing changes."""

from __future__ import annotations

import pytest

from netvigil.errors import TopologyError
from netvigil.eval.scale import choose_storm
from netvigil.events import DeviceEvent, Metric
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.carrier import CarrierSpec, generate
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork

SPEC = CarrierSpec(devices=120, core_sites=4, access_per_pop=6, services=0, seed=2)
FAIL, END = 100.0, 200.0


def behind(topo: MemoryTopology, pair: tuple[str, ...]) -> set[str]:
    """The POPs whose aggregation routers are homed on ``pair``: their routers and access."""
    sites = {
        d.site
        for d in topo.devices()
        if d.role == "aggregation" and set(topo.neighbors(d.name)) & set(pair)
    }
    return {d.name for d in topo.devices() if d.site in sites}


def test_the_storm_is_a_core_pair_and_isolates_the_pops_behind_it() -> None:
    net = generate(SPEC)
    topo = net.load_into(MemoryTopology())
    assert isinstance(topo, MemoryTopology)
    storm = choose_storm(net)
    assert {topo.device(d).role for d in storm.failed} == {"core"}
    assert len({topo.device(d).site for d in storm.failed}) == 1 and len(storm.failed) == 2
    assert storm.isolated == behind(topo, storm.failed)
    # the site with the most POPs behind it (POPs are spread over sites, sizes differ)
    cores = {d.site for d in topo.devices() if d.role == "core"}
    pairs = [tuple(d.name for d in topo.devices() if d.site == s) for s in cores]
    assert len(storm.isolated) == max(len(behind(topo, p)) for p in pairs)
    assert storm.poller not in storm.isolated | set(storm.failed)
    assert topo.device(storm.poller).role == "core"


def run(
    poller: str | None,
) -> tuple[TwinNetwork, dict[float, list[object]], set[str], tuple[str, ...]]:
    net = generate(SPEC)
    storm = choose_storm(net)
    topo = net.load_into(MemoryTopology())
    faults = [Fault("node_down", d, FAIL, END) for d in storm.failed]
    twin = TwinNetwork(topo, faults, seed=1, poll_reachability=True, poller=poller or None)
    steps = {t: list(twin.step(t)) for t in (0.0, FAIL, FAIL + 10, END)}
    return twin, steps, set(storm.isolated), storm.failed


def senders(events: list[object]) -> set[str]:
    return {e.device for e in events if isinstance(e, Metric) and e.name != "reachability"}


def test_devices_cut_off_from_the_poller_are_unreachable_and_silent() -> None:
    storm = choose_storm(generate(SPEC))
    twin, steps, isolated, failed = run(storm.poller)
    silent = isolated | set(failed)
    everyone = {d.name for d in twin.topo.devices()}
    assert senders(steps[0.0]) == everyone
    unreachable = {
        e.device for e in steps[FAIL] if isinstance(e, DeviceEvent) and e.kind == "unreachable"
    }
    assert unreachable == silent
    assert senders(steps[FAIL]) == everyone - silent
    polled = {
        e.device: e.value
        for e in steps[FAIL + 10]
        if isinstance(e, Metric)
        if e.name == "reachability"
    }
    assert {d for d, v in polled.items() if v == 0.0} == silent
    # the failure ends: all reachable again, every device reports
    back = {e.device for e in steps[END] if isinstance(e, DeviceEvent) and e.kind == "reachable"}
    assert back == silent and senders(steps[END]) == everyone


def test_without_a_poller_only_the_failed_routers_go_silent() -> None:
    twin, steps, _, failed = run(None)
    everyone = {d.name for d in twin.topo.devices()}
    assert senders(steps[FAIL]) == everyone - set(failed)
    unreachable = {
        e.device for e in steps[FAIL] if isinstance(e, DeviceEvent) and e.kind == "unreachable"
    }
    assert unreachable == set(failed)


def test_an_unknown_poller_is_refused() -> None:
    topo = generate(SPEC).load_into(MemoryTopology())
    with pytest.raises(TopologyError, match="poller 'nowhere'"):
        TwinNetwork(topo, [], seed=1, poller="nowhere")
