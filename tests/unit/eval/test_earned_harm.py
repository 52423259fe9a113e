"""The earned-autonomy scenario scores detection over the faults that harmed: a second surge
on a link a verified QoS change still polices never saturates it and is not a miss."""

from __future__ import annotations

from netvigil.eval.earned import harm_scores
from netvigil.eval.recovery import RecoveryWatch
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import Change, apply_change
from tests.unit.eval.test_recovery import STEP, T0


def _row(detected: str | None) -> dict[str, object]:
    return {"kind": "congestion", "detected_root_cause": detected}


def test_a_second_surge_under_a_standing_policer_is_not_counted_as_missed() -> None:
    topo = load_topology(None)
    lk = topo.link("core1--edge1")
    first = Fault("congestion", lk.id, T0 + 600, T0 + 1800, magnitude=1.3, direction=lk.a)
    second = Fault("congestion", lk.id, T0 + 3600, T0 + 4800, magnitude=1.3, direction=lk.a)
    hung = Fault("link_down", "core1--core2", T0 + 6000, T0 + 6600)
    faults = [first, second, hung]
    net = TwinNetwork(topo, faults, seed=1)
    watch = RecoveryWatch(net, faults)
    t = T0
    while t <= T0 + 7200:
        if t == T0 + 900:  # the first surge's QoS change verified: the policer stays
            apply_change(net, Change(policers={lk.id: 0.6}), t)
        net.step(t)
        watch(t)
        t += STEP
    rows = [_row(lk.id), _row(None), _row(None)]
    got = harm_scores(rows, faults, watch)
    assert [r["harmful"] for r in rows] == [True, False, True]
    # the hung link harmed and was missed: that is still a miss
    assert got == {"harmful": 2, "harmful_detected": 1, "all_real_faults_detected": False}
    rows = [_row(lk.id), _row(None), _row("core1--core2")]
    got = harm_scores(rows, faults, watch)
    assert got == {"harmful": 2, "harmful_detected": 2, "all_real_faults_detected": True}
