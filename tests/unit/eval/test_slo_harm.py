"""Harm includes SLO budget burned: each success SLO's failed share of requests per step,
from the twin's service model, over the SLO window's error budget."""

from __future__ import annotations

import pytest

from netvigil.analytics.slo import SLO
from netvigil.eval.prevention import HarmMeter
from netvigil.graph.importers import load_topology
from netvigil.twin.faults import Fault
from netvigil.twin.network import TwinNetwork
from netvigil.twin.services import ServiceSpec, TwinServices
from tests.unit.eval.test_recovery import STEP, T0

DAY = 86400.0


def test_lost_transactions_burn_the_error_budget_of_the_services_they_hit() -> None:
    topo = load_topology(None)
    # core3--edge3 is on shop's client path (edge3 -> edge1, one path) and not on orders'
    loss = Fault("packet_loss", "core3--edge3", T0 + 600, T0 + 1200, magnitude=0.03)
    net = TwinNetwork(topo, [loss], seed=1)
    shop = ServiceSpec("shop", "edge1", ("edge3",), ("orders",), slos=(SLO("shop", 0.99, DAY),))
    orders = ServiceSpec("orders", "edge2", ("edge1",), slos=(SLO("orders", 0.999, DAY),))
    served = TwinServices([shop, orders], net, topo, clock=lambda: 0.0)
    meter = HarmMeter(net, STEP, services=served)
    t = T0
    while t <= T0 + 1800:
        net.step(t)
        meter(t)
        t += STEP
    # 10 steps inside the loss; a transaction of 10 packets (5 each way) fails if one is lost
    failed = 1 - (1 - 0.03) ** 10
    want = failed * 10 * STEP / (0.01 * DAY)
    assert meter.slo_burned["shop|success"] == pytest.approx(want)
    assert meter.slo_burned["orders|success"] == 0.0
    assert meter.harm_s == 0.0  # no link was saturated: the harm was the budget's
