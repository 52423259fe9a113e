"""sFlow counter samples turned into interface metrics: rates from successive counters.

The metrics contract says counters arrive as rates. sFlow sends absolute counters every
polling interval, so the rate is the difference to the previous sample of the same agent and
interface over the difference of the agent's uptime. A counter that went backwards wrapped
(32- or 64-bit, by its width) unless the agent restarted (uptime went backwards): then the
series starts again without a rate, rather than report a huge false spike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netvigil.events import Metric

__all__ = ["CounterRates"]

# sFlow if_counters field -> (metric name, multiplier, counter width in bits)
_RATES = {
    "if_counters.ifInOctets": ("if.in_bps", 8, 64),
    "if_counters.ifOutOctets": ("if.out_bps", 8, 64),
    "if_counters.ifInUcastPkts": ("if.in_pps", 1, 32),
    "if_counters.ifOutUcastPkts": ("if.out_pps", 1, 32),
    "if_counters.ifInDiscards": ("if.in_discards", 1, 32),
    "if_counters.ifOutDiscards": ("if.out_discards", 1, 32),
    "if_counters.ifInErrors": ("if.in_errors", 1, 32),
    "if_counters.ifOutErrors": ("if.out_errors", 1, 32),
}


@dataclass
class _Last:
    uptime_ms: int
    values: dict[str, int] = field(default_factory=dict)


class CounterRates:
    """Keeps the last counters per (agent, ifIndex) and turns new samples into metrics."""

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self._last: dict[tuple[str, int], _Last] = {}

    def metrics(
        self, agent: str, uptime_ms: int, sample: Mapping[str, object], ts: float
    ) -> list[Metric]:
        index = sample.get("if_counters.ifIndex")
        out: list[Metric] = []
        if not isinstance(index, int):
            cpu = sample.get("processor.cpu_percentage_1m")
            if isinstance(cpu, int):
                out.append(Metric(ts=ts, device=agent, name="cpu.util", value=cpu / 100, unit="1"))
            return out
        labels = {"interface": str(index), "ifindex": str(index)}
        status = sample.get("if_counters.ifStatus")
        if isinstance(status, int):
            oper = 1.0 if status & 2 else 0.0
            out.append(
                Metric(ts=ts, device=agent, name="if.oper_status", value=oper, labels=labels)
            )
        key = (agent, index)
        prev = self._last.get(key)
        now = _Last(uptime_ms, {k: v for k in _RATES if isinstance(v := sample.get(k), int)})
        if len(self._last) >= self.max_series and key not in self._last:
            self._last.clear()
        self._last[key] = now
        if prev is None or uptime_ms <= prev.uptime_ms:
            return out  # first sample, or the agent restarted: no rate yet
        dt = (uptime_ms - prev.uptime_ms) / 1000
        speed = sample.get("if_counters.ifSpeed")
        for k, (name, mult, width) in _RATES.items():
            if k not in now.values or k not in prev.values:
                continue
            delta = now.values[k] - prev.values[k]
            if delta < 0:
                delta += 1 << width
            rate = delta * mult / dt
            out.append(Metric(ts=ts, device=agent, name=name, value=rate, labels=labels))
            if name == "if.out_bps" and isinstance(speed, int) and speed > 0:
                out.append(
                    Metric(
                        ts=ts, device=agent, name="if.out_util", value=rate / speed, labels=labels
                    )
                )
        return out
