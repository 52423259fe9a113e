"""A lossy link as devices report it: input errors over gNMI (pygnmi) and SNMP (net-snmp)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from pygnmi.client import gNMIclient

from netvigil.config import Settings
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.twin.telemetry import TwinTelemetry
from tests.integration.conftest import serve_twin
from tests.integration.twin.test_snmp import tool

pytestmark = pytest.mark.integration
#: every twin fault is a packet loss from the first step on, lasting the whole test
ENV = {
    "NETVIGIL_TWIN__FAULT_KINDS": '["packet_loss"]',
    "NETVIGIL_TWIN__WARMUP_S": "0",
    "NETVIGIL_TWIN__FAULT_DURATION_S": "1000000",
    "NETVIGIL_TWIN__FAULT_INTERVAL_S": "1000000",
}


@pytest.fixture(scope="module")
def lossy() -> Iterator[tuple[dict[str, dict[str, str]], str]]:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        settings = Settings()
        target = Service.plan_twin(settings, fault_count=1).faults[0].target
        with serve_twin("--speed", "300", "--snmp", "--faults") as devices:
            yield devices, target
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def in_errors_gnmi(endpoint: str, ifname: str) -> int:
    host, _, port = endpoint.rpartition(":")
    path = f"/interfaces/interface[name={ifname}]/state/counters/in-errors"
    with gNMIclient(target=(host, int(port)), insecure=True) as gc:
        result = gc.get(path=[path], encoding="json_ietf")
    values = [u["val"] for n in result["notification"] for u in n.get("update", [])]
    assert len(values) == 1, result
    return int(values[0])


def in_errors_snmp(endpoint: str, if_index: int) -> int:
    oid = f"1.3.6.1.2.1.2.2.1.14.{if_index}"  # IF-MIB ifInErrors
    return int(tool("snmpget", "-v2c", "-c", "public", "-On", "-Oqv", endpoint, oid).strip())


def test_both_ends_of_the_lossy_link_count_input_errors_on_both_protocols(
    lossy: tuple[dict[str, dict[str, str]], str],
) -> None:
    devices, link_id = lossy
    topo = load_topology(None)
    tel = TwinTelemetry(topo, step_s=10, start=0.0)
    lk = topo.link(link_id)
    ends = [(lk.a, lk.a_if.partition(":")[2]), (lk.b, lk.b_if.partition(":")[2])]
    first = {
        d: (
            in_errors_gnmi(devices[d]["gnmi"], i),
            in_errors_snmp(devices[d]["snmp"], tel.ifindex(d, i)),
        )
        for d, i in ends
    }
    time.sleep(1.0)  # 300 simulated seconds
    for d, i in ends:
        g, s = (
            in_errors_gnmi(devices[d]["gnmi"], i),
            in_errors_snmp(devices[d]["snmp"], tel.ifindex(d, i)),
        )
        assert g > first[d][0]
        assert s > first[d][1]
    # an interface of a clean link counts none
    clean = next(x for x in topo.links() if x.id != link_id and lk.a in (x.a, x.b))
    ifname = clean.end(lk.a).partition(":")[2]
    assert in_errors_gnmi(devices[lk.a]["gnmi"], ifname) == 0
    assert in_errors_snmp(devices[lk.a]["snmp"], tel.ifindex(lk.a, ifname)) == 0
