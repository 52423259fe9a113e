"""An executor that makes changes on the digital twin, reading the same OpenConfig paths a
gNMI device would (until the twin serves gNMI itself, this is how the closed loop acts on it).

Paths understood: interface ``enabled`` (a disable then enable resets the link and clears a
link-down), the IS-IS interface ``metric`` (steers traffic), and the QoS output
``scheduler-policy`` name ``netvigil-police-<pct>`` (polices the surging class to pct% of the
link; deleting it removes the policer). Anything else is refused, not ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netvigil.events import interface_id
from netvigil.graph.base import TopologyStore
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.twin.network import TwinNetwork
from netvigil.twin.whatif import Change, apply_change, undo_change

__all__ = ["TwinExecutor", "change_of"]

_ENABLED = re.compile(r"^/interfaces/interface\[name=(?P<ifname>[^\]]+)\]/config/enabled$")
_METRIC = re.compile(r"/isis/interfaces/interface\[interface-id=(?P<ifname>[^\]]+)\]/.*/metric$")
_QOS = re.compile(
    r"^/qos/interfaces/interface\[interface-id=(?P<ifname>[^\]]+)\]/output/scheduler-policy"
)
_POLICE = re.compile(r"^netvigil-police-(?P<pct>\d+)$")


def change_of(topo: TopologyStore, ops: list[Op]) -> tuple[Change, list[str]]:
    """The twin change that ``ops`` amount to, and the operations it does not understand."""
    metric: dict[str, int] = {}
    policers: dict[str, float] = {}
    restore: set[str] = set()
    unpoliced: set[str] = set()
    disabled: set[str] = set()
    unknown: list[str] = []
    for op in ops:
        path = op.path
        m = _ENABLED.match(path) or _METRIC.search(path) or _QOS.match(path)
        if m is None:
            unknown.append(f"{op.device} {op.op} {path}")
            continue
        iface = topo.interface(interface_id(op.device, m.group("ifname")))
        link = iface.link
        if link is None:
            unknown.append(f"{iface.id} is on no link")
            continue
        if m.re is _ENABLED:
            if op.value in (False, "false"):
                disabled.add(link)
            elif link in disabled or op.value in (True, "true"):
                restore.add(link)
        elif m.re is _METRIC:
            metric[link] = int(op.value)
        elif op.op == "delete":
            unpoliced.add(link)
        else:
            pm = _POLICE.match(str(op.value))
            if pm is None:
                unknown.append(f"QoS policy {op.value!r} is not netvigil-police-<pct>")
                continue
            policers[link] = int(pm.group("pct")) / 100
    change = Change(metric=metric, policers=policers, restore=frozenset(restore))
    if unpoliced:
        change = Change(metric=metric, policers={**{lk: -1.0 for lk in unpoliced}, **policers})
    return change, unknown


class TwinExecutor:
    """Applies operations to a live :class:`TwinNetwork`; ``clock()`` is its simulated time."""

    name = "twin"
    runs_inline = True

    def __init__(self, net: TwinNetwork, clock: Callable[[], float]) -> None:
        self.net = net
        self.clock = clock

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        change, unknown = change_of(self.net.topo, ops)
        if unknown:
            return ExecOutcome(False, "twin does not support: " + "; ".join(unknown), dry_run)
        summary = {
            "metric": change.metric,
            "policers": change.policers,
            "restore": sorted(change.restore),
        }
        if dry_run:
            return ExecOutcome(True, f"would apply {summary}", True, summary)
        removed = [lk for lk, share in change.policers.items() if share < 0]
        if removed:
            undo_change(self.net, Change(policers={lk: 0.0 for lk in removed}))
            change = Change(
                metric=change.metric,
                policers={lk: s for lk, s in change.policers.items() if s >= 0},
                restore=change.restore,
            )
        now = self.clock()
        apply_change(self.net, change, now)
        return ExecOutcome(True, f"applied {summary} at t={now:.0f}", False, summary, now)
