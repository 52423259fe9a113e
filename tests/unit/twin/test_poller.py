"""The twin's poller: verdicts after ``down_after`` failed polls, and lone poll timeouts."""

from __future__ import annotations

from netvigil.events import POLLER_OVERLOAD, DeviceEvent, Metric
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.poller import PollVerdicts

T0 = 1_767_571_200.0
STEP = 10.0


def verdicts(events: list, device: str | None = None) -> list[tuple[str, str]]:
    return [
        (e.device, e.kind)
        for e in events
        if isinstance(e, DeviceEvent)
        and e.kind in ("unreachable", "reachable")
        and (device is None or e.device == device)
    ]


def run(net: TwinNetwork, steps: int) -> list[list]:
    return [net.step(T0 + STEP * i) for i in range(steps)]


def test_a_failed_device_is_unreachable_after_down_after_polls_and_back_at_its_answer() -> None:
    topo = load_topology(None)
    dev = "core1"
    fault = Fault("node_down", dev, T0 + 5 * STEP, T0 + 9 * STEP)
    for down_after in (1, 2, 3):
        net = TwinNetwork(topo, [fault], seed=1, poll_reachability=True, down_after=down_after)
        steps = run(net, 12)
        said = [(i, v) for i, ev in enumerate(steps) for v in verdicts(ev, dev)]
        # down from step 5 to 8: the verdict comes at the down_after-th failed poll
        assert said == [(5 + down_after - 1, (dev, "unreachable")), (9, (dev, "reachable"))]
        reach = [
            [
                m.value
                for m in ev
                if isinstance(m, Metric) and m.name == "reachability" and m.device == dev
            ]
            for ev in (steps[5], steps[5 + down_after - 1])
        ]
        # before the verdict its poll brings nothing; from the verdict on it reads 0
        assert reach[1] == [0.0] and (down_after == 1 or reach[0] == [])


def test_a_timed_out_poll_brings_no_metric_but_what_the_device_pushes_arrives() -> None:
    topo = load_topology(None)
    every = Fault("poll_timeouts", "core1", T0, T0 + 100 * STEP, 1.0)
    cut = Fault("link_down", "core1--edge1", T0 + 3 * STEP, T0 + 100 * STEP)
    net = TwinNetwork(topo, [every, cut], seed=1, poll_reachability=True)
    steps = run(net, 6)
    devices = {d.name for d in topo.devices()}
    assert set(verdicts(steps[0])) == {(d, "unreachable") for d in devices}
    for ev in steps:
        assert {(m.name, m.value) for m in ev if isinstance(m, Metric)} == {("reachability", 0.0)}
    pushed = {(e.device, e.kind) for e in steps[3] if isinstance(e, DeviceEvent)}
    assert {("core1", "link_down"), ("edge1", "link_down")} <= pushed


def test_lone_timeouts_come_at_the_share_asked_for() -> None:
    topo = load_topology(None)
    noise = Fault("poll_timeouts", "core1", T0, T0 + 2000 * STEP, 0.05)
    net = TwinNetwork(topo, [noise], seed=1)
    n = len(topo.devices())
    said = [v for ev in run(net, 400) for v in verdicts(ev) if v[1] == "unreachable"]
    assert 0.03 < len(said) / (400 * n) < 0.07


def test_down_after_two_keeps_the_verdicts_of_timeouts_that_repeat() -> None:
    topo = load_topology(None)
    noise = Fault("poll_timeouts", "core1", T0, T0 + 5000 * STEP, 0.05)

    def said(down_after: int) -> list[tuple[int, str]]:
        net = TwinNetwork(topo, [noise], seed=1, down_after=down_after)
        return [
            (i, d)
            for i, ev in enumerate(run(net, 1500))
            for d, k in verdicts(ev)
            if k == "unreachable"
        ]

    one, two = said(1), said(2)
    assert len(two) < len(one) / 4
    # each verdict at down_after 2 is a device that also timed out at the step before
    assert two and all((i - 1, d) in set(one) for i, d in two)


def test_verdicts_keep_an_overloaded_pollers_mark_apart_from_a_failure() -> None:
    v = PollVerdicts(["a", "b"], down_after=1)
    none: frozenset[str] = frozenset()
    plain, marked = v.step(0.0, none, frozenset({"a"}), none)
    assert plain == [] and [(e.device, e.kind, POLLER_OVERLOAD in e.attrs) for e in marked] == [
        ("a", "unreachable", True)
    ]
    # late, then really down: said again without the mark
    plain, marked = v.step(1.0, frozenset({"a"}), none, none)
    assert [(e.device, e.kind, e.attrs) for e in plain] == [("a", "unreachable", {})]
    assert marked == [] and v.down("a")
    # down, then late: back, then marked
    plain, marked = v.step(2.0, none, frozenset({"a"}), none)
    assert [e.kind for e in plain] == ["reachable"]
    assert [(e.kind, POLLER_OVERLOAD in e.attrs) for e in marked] == [("unreachable", True)]
    plain, marked = v.step(3.0, none, none, none)
    assert plain == [] and [e.kind for e in marked] == ["reachable"]
    assert not v.down("a") and v.failures == {"a": 0, "b": 0}
