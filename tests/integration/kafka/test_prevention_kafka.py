"""Prevention on the Kafka runtime: the risk processor (keyed by device, on consumer groups
like every processor) turns the forecaster's prediction into a risk on ``netvigil.risks``, the
coordinator reads it from Kafka and polices the link before the predicted saturation (level
2, semi-autonomous); the twin never saturates. The same case runs embedded in
``tests/unit/resolvers/test_prevention_loop.py``. 60 simulated seconds per wall second."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.config import Settings
from netvigil.eval.recovery import RecoveryWatch
from netvigil.service import Service, TwinPlan
from netvigil.streams.kafka.runtime import KafkaRuntime
from netvigil.twin.faults import Fault
from netvigil.twin.source import SIM_EPOCH


def test_a_predicted_saturation_is_policed_before_it_happens_through_kafka(
    settings: Settings, tmp_path: Path
) -> None:
    settings.coordinator.phase = "semi-autonomous"  # type: ignore[assignment]
    settings.coordinator.poll_s = 10.0
    start = SIM_EPOCH + 1800.0
    ramp = Fault("growth_ramp", "core1--edge1", start, start + 7200, 1.3, direction="edge1")
    plan = TwinPlan(speed=60.0, faults=[ramp], until=start + 6000.0)
    svc = Service.build(settings, twin=plan, data_dir=tmp_path)
    try:
        assert isinstance(svc.runtime, KafkaRuntime) and svc.twin is not None
        watch = RecoveryWatch(svc.twin.network, [ramp])
        svc.twin.step_hooks.append(watch)
        asyncio.run(svc.run())
        assert svc.prevention is not None
        risks = svc.prevention.risks.all()
        assert risks and risks[0].risk.entity == "edge1:Ethernet0", risks
        (rec,) = [a for a in svc.actions.all() if a.preemptive]
        assert rec.action == "qos_adjust" and rec.level == 2
        assert rec.executed_ts < risks[0].risk.predicted_ts
        assert watch.recoveries[0].onset is None  # the link never saturated
        acts = [r.action for r in svc.audit.records()]
        assert "risk.opened" in acts and acts.index("risk.opened") < acts.index("action.executed")
        assert svc.audit.verify().ok
    finally:
        svc.close()
