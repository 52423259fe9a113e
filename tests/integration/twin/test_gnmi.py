"""The twin's gNMI endpoints, driven by the third-party pygnmi client over real gRPC."""

from __future__ import annotations

import time

import grpc
import pytest
from pygnmi.client import gNMIclient

pytestmark = pytest.mark.integration

IF0 = "GigabitEthernet0/0/0"  # core1's interface towards core2 in the built-in topology


def client(endpoints: dict[str, tuple[str, int]], device: str) -> gNMIclient:
    return gNMIclient(target=endpoints[device], insecure=True)


def leaf(result: dict, suffix: str) -> object:
    for note in result["notification"]:
        for upd in note["update"]:
            if upd["path"].endswith(suffix):
                return upd["val"]
    raise KeyError(suffix)


def test_capabilities(twin: dict[str, tuple[str, int]]) -> None:
    with client(twin, "core1") as gc:
        caps = gc.capabilities()
    assert caps["gnmi_version"] == "0.8.0"
    assert "openconfig-interfaces" in [m["name"] for m in caps["supported_models"]]
    assert "json_ietf" in [e.lower() for e in caps["supported_encodings"]]


def test_counters_grow_and_state_is_openconfig(twin: dict[str, tuple[str, int]]) -> None:
    path = f"/interfaces/interface[name={IF0}]/state"
    with client(twin, "core1") as gc:
        first = gc.get(path=[path], encoding="json_ietf")
        time.sleep(1.5)  # 30 simulated seconds at 20x
        second = gc.get(path=[path], encoding="json_ietf")
        host = gc.get(path=["/system/state/hostname"], encoding="json_ietf")
    assert leaf(first, "oper-status") == "UP"
    assert leaf(first, "description") == "to core2 GigabitEthernet0/0/0"
    out1, out2 = leaf(first, "counters/out-octets"), leaf(second, "counters/out-octets")
    assert isinstance(out1, int) and isinstance(out2, int) and out2 > out1
    assert leaf(host, "hostname") == "core1"


def test_set_shuts_the_interface_and_the_link_goes_down_at_both_ends(
    twin: dict[str, tuple[str, int]],
) -> None:
    cfg = f"/interfaces/interface[name={IF0}]/config"
    oper = f"/interfaces/interface[name={IF0}]/state/oper-status"
    with client(twin, "core1") as gc, client(twin, "core2") as far:
        result = gc.set(update=[(cfg, {"enabled": False})], encoding="json_ietf")
        assert result["response"][0]["op"] == "UPDATE"
        time.sleep(1.5)
        assert leaf(gc.get(path=[oper], encoding="json_ietf"), "oper-status") == "DOWN"
        admin = gc.get(path=[f"/interfaces/interface[name={IF0}]/state/admin-status"])
        assert leaf(admin, "admin-status") == "DOWN"
        assert leaf(far.get(path=[oper], encoding="json_ietf"), "oper-status") == "DOWN"
        gc.set(update=[(cfg, {"enabled": True})], encoding="json_ietf")
        time.sleep(1.5)
        assert leaf(gc.get(path=[oper], encoding="json_ietf"), "oper-status") == "UP"


def test_isis_metric_get_set_and_bad_values(twin: dict[str, tuple[str, int]]) -> None:
    metric = (
        "/network-instances/network-instance[name=default]/protocols/protocol"
        "[identifier=ISIS][name=0]/isis/interfaces/interface[interface-id="
        f"{IF0}]/levels/level[level-number=2]/config/metric"
    )
    with client(twin, "core1") as gc:
        assert leaf(gc.get(path=[metric], encoding="json_ietf"), "metric") == 10
        gc.set(update=[(metric, 55)], encoding="json_ietf")
        assert leaf(gc.get(path=[metric], encoding="json_ietf"), "metric") == 55
        gc.set(delete=[metric], encoding="json_ietf")
        assert leaf(gc.get(path=[metric], encoding="json_ietf"), "metric") == 10
    stub = _stub(twin["core1"])
    from pygnmi.spec.v080 import gnmi_pb2 as pb

    bad = pb.SetRequest(
        update=[
            pb.Update(
                path=pb.Path(
                    elem=[
                        pb.PathElem(name="system"),
                        pb.PathElem(name="config"),
                        pb.PathElem(name="hostname"),
                    ]
                ),
                val=pb.TypedValue(string_val="x"),
            )
        ]
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.Set(bad, timeout=5)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _stub(endpoint: tuple[str, int]):  # type: ignore[no-untyped-def]
    from pygnmi.spec.v080 import gnmi_pb2_grpc as pb_grpc

    return pb_grpc.gNMIStub(grpc.insecure_channel(f"{endpoint[0]}:{endpoint[1]}"))


# pygnmi reads a stream subscription in a thread of its own, and its close() only half-closes
# the request side, while the twin keeps a STREAM subscription until the RPC is cancelled
# (NetVigil's own collector half-closes right after subscribing and expects the stream to go
# on), so that thread ends with CANCELLED when the client closes its channel
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_subscribe_once_and_stream(twin: dict[str, tuple[str, int]]) -> None:
    from pygnmi.spec.v080 import gnmi_pb2 as pb

    stub = _stub(twin["core2"])
    req = pb.SubscribeRequest(
        subscribe=pb.SubscriptionList(
            mode=pb.SubscriptionList.ONCE,
            encoding=pb.JSON_IETF,
            subscription=[
                pb.Subscription(
                    path=pb.Path(
                        elem=[
                            pb.PathElem(name="interfaces"),
                            pb.PathElem(name="interface", key={"name": "*"}),
                            pb.PathElem(name="state"),
                            pb.PathElem(name="oper-status"),
                        ]
                    )
                )
            ],
        )
    )
    responses = list(stub.Subscribe(iter([req]), timeout=10))
    assert responses[-1].sync_response
    from netvigil.graph.importers import load_topology

    assert len(responses[0].update.update) == len(load_topology(None).interfaces("core2"))
    sub = {
        "subscription": [
            {
                "path": "/interfaces/interface/state/counters/in-octets",
                "mode": "sample",
                "sample_interval": 500_000_000,
            }
        ],
        "mode": "stream",
        "encoding": "json",
    }
    values: list[int] = []
    with client(twin, "core2") as gc:
        for msg in gc.subscribe2(subscribe=sub):
            if "update" in msg:
                ups = [
                    u
                    for u in msg["update"]["update"]
                    if u["path"].startswith("interfaces/interface[name=GigabitEthernet0/0/0]")
                ]
                values += [u["val"] for u in ups]
            if len(values) >= 3:
                break
    assert values == sorted(values) and values[-1] > values[0]
