"""A congestion whose sending router does not answer its polls (the lab's Marnet morning run),
through the whole pipeline on the twin: the far end's received utilization names the link."""

from __future__ import annotations

from pathlib import Path

from netvigil.config import Settings
from netvigil.events import Anomaly, Event, Incident
from netvigil.service import Service, TwinPlan
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH

T0 = SIM_EPOCH + 600


async def test_a_congestion_whose_sender_is_unreachable_is_its_link(tmp_path: Path) -> None:
    settings = Settings()
    settings.twin.step_s = 10
    # edge1 fills its link to core1 and its agent stops answering while it does
    fault = Fault("congestion", "core1--edge1", T0, T0 + 120, 1.3, "edge1", sender_answers=False)
    plan = TwinPlan(
        speed=0.0, faults=[fault], until=T0 + 240, poll_reachability=True, received_util=True
    )
    svc = Service.build(settings, twin=plan, data_dir=tmp_path / "data")
    seen: list[Incident] = []
    strong: set[tuple[str, str]] = set()

    def on(_topic: str, e: Event) -> None:
        if isinstance(e, Incident):
            seen.append(e)
        elif isinstance(e, Anomaly) and e.kind in ("down", "threshold"):
            strong.add((e.entity, e.signal))

    svc.runtime.listen("netvigil.incidents", on)
    svc.runtime.listen("netvigil.anomalies", on)
    await svc.run()
    svc.close()
    far = svc.topology.link("core1--edge1").end("core1")
    # what fooled NetVigil on the lab: the sender unreachable, the far end receiving it full
    assert {("edge1", "reachability"), (far, "if.in_util")} <= strong, strong
    assert len({i.fingerprint for i in seen}) == 1, seen
    first = seen[-1].root_causes[0]
    assert (first.entity, first.fault) == ("core1--edge1", "congestion"), seen[-1].root_causes
