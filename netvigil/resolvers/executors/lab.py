"""Executors that change the lab's real routers: directly, or through an Ansible playbook.

Both read the catalog's OpenConfig operations (the paths the twin executor understands,
``executors/twin.py``) and turn them into the lab's own commands, per router namespace:

- interface ``config/enabled`` false/true -> ``ip link set IF down/up``;
- the IGP interface ``metric`` -> FRRouting's ``ip ospf cost N`` (``vtysh``);
- QoS ``scheduler-policy`` ``netvigil-police-<pct>`` -> a ``tc`` HTB class capped at pct %
  of the link, and a u32 filter putting the surging class (UDP port 5001, the traffic
  generator's surges) into it; deleting the policy removes filter and class.

:class:`LabExecutor` runs the commands itself; :class:`LabAnsibleExecutor` hands the same
commands to a playbook (``playbooks/lab_apply.yml``, one ``command`` task per command) run
by ansible-runner, so the change goes through Ansible as in production. Dry run checks that
every router and interface exists and FRRouting answers, and reports the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from netvigil.lab.plan import LabPlan
from netvigil.lab.system import LabError, run
from netvigil.lab.traffic import SURGE_PORT
from netvigil.resolvers.base import ExecOutcome, Op
from netvigil.resolvers.executors.ansible import AnsibleExecutor
from netvigil.resolvers.executors.twin import _ENABLED, _METRIC, _POLICE, _QOS

__all__ = ["LabAnsibleExecutor", "LabExecutor", "lab_commands"]

POLICE_CLASS = "1:30"


def _iface_cap(plan: LabPlan, device: str, ifname: str) -> float:
    for i in plan.router(device).interfaces:
        if i.name == ifname:
            return i.capacity_bps
    raise LabError(f"{device} has no interface {ifname} in the lab")


def lab_commands(plan: LabPlan, ops: list[Op]) -> tuple[list[list[str]], list[str]]:
    """The commands that make ``ops`` on the lab, and the operations not understood."""
    cmds: list[list[str]] = []
    unknown: list[str] = []
    for op in ops:
        m = _ENABLED.match(op.path) or _METRIC.search(op.path) or _QOS.match(op.path)
        try:
            ns = plan.router(op.device).netns
        except KeyError:
            unknown.append(f"{op.device} is not a lab router")
            continue
        if m is None:
            unknown.append(f"{op.device} {op.op} {op.path}")
            continue
        ifname = m.group("ifname")
        try:
            cap = _iface_cap(plan, op.device, ifname)
        except LabError as exc:
            unknown.append(str(exc))
            continue
        if m.re is _ENABLED:
            up = op.value not in (False, "false")
            cmds.append(["ip", "-n", ns, "link", "set", ifname, "up" if up else "down"])
        elif m.re is _METRIC:
            cmds.append(
                [
                    "vtysh",
                    "-N",
                    ns,
                    "-c",
                    "configure terminal",
                    "-c",
                    f"interface {ifname}",
                    "-c",
                    f"ip ospf cost {int(op.value)}",
                ]
            )
        elif op.op == "delete":
            tc = ["tc", "-n", ns]
            cmds.append([*tc, "filter", "del", "dev", ifname, "parent", "1:", "prio", "5"])
            cmds.append([*tc, "class", "del", "dev", ifname, "classid", POLICE_CLASS])
        else:
            pm = _POLICE.match(str(op.value))
            if pm is None:
                unknown.append(f"QoS policy {op.value!r} is not netvigil-police-<pct>")
                continue
            rate = f"{int(cap * int(pm.group('pct')) / 100)}bit"
            tc = ["tc", "-n", ns]
            cmds.append(
                [
                    *tc,
                    "class",
                    "replace",
                    "dev",
                    ifname,
                    "parent",
                    "1:1",
                    "classid",
                    POLICE_CLASS,
                    "htb",
                    "rate",
                    rate,
                    "ceil",
                    rate,
                    "prio",
                    "2",
                ]
            )
            cmds.append(
                [
                    *tc,
                    "filter",
                    "replace",
                    "dev",
                    ifname,
                    "parent",
                    "1:",
                    "protocol",
                    "ip",
                    "prio",
                    "5",
                    "u32",
                    "match",
                    "ip",
                    "protocol",
                    "17",
                    "0xff",
                    "match",
                    "ip",
                    "dport",
                    str(SURGE_PORT),
                    "0xffff",
                    "flowid",
                    POLICE_CLASS,
                ]
            )
    return cmds, unknown


def _check(plan: LabPlan, ops: list[Op]) -> list[str]:
    """What a dry run finds wrong: routers, interfaces, FRRouting not answering."""
    problems = []
    for device in sorted({o.device for o in ops}):
        try:
            r = plan.router(device)
        except KeyError:
            problems.append(f"{device} is not a lab router")
            continue
        try:
            run(["ip", "-n", r.netns, "link", "show"])
            run(["vtysh", "-N", r.netns, "-c", "show version"])
        except LabError as exc:
            problems.append(f"{device}: {exc}")
    return problems


class LabExecutor:
    """Changes lab routers with ``ip``, ``tc`` and ``vtysh``; ``plan()`` gives the lab."""

    name = "lab"
    runs_inline = False

    def __init__(self, plan: Callable[[], LabPlan]) -> None:
        self.plan = plan

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        plan = self.plan()
        cmds, unknown = lab_commands(plan, ops)
        if unknown:
            return ExecOutcome(False, "the lab does not support: " + "; ".join(unknown), dry_run)
        shown = [" ".join(c) for c in cmds]
        if dry_run:
            problems = _check(plan, ops)
            ok = not problems
            detail = "; ".join(problems) if problems else f"would run {len(cmds)} commands"
            return ExecOutcome(ok, detail, True, {"commands": shown})
        done: list[str] = []
        for c in cmds:
            try:
                run(c)
            except LabError as exc:
                return ExecOutcome(False, str(exc), False, {"done": done, "commands": shown})
            done.append(" ".join(c))
        return ExecOutcome(True, f"ran {len(cmds)} commands on the lab", False, {"commands": shown})


class LabAnsibleExecutor:
    """The same commands, run by ansible-runner through ``playbooks/lab_apply.yml``."""

    name = "lab-ansible"
    runs_inline = False

    def __init__(self, plan: Callable[[], LabPlan], *, work_dir: Path | None = None) -> None:
        self.plan = plan
        playbooks = Path(str(resources.files("netvigil.resolvers").joinpath("data/playbooks")))
        self.ansible = AnsibleExecutor(
            playbooks,
            {},
            playbook_of={},
            work_dir=work_dir,
        )

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        plan = self.plan()
        cmds, unknown = lab_commands(plan, ops)
        if unknown:
            return ExecOutcome(False, "the lab does not support: " + "; ".join(unknown), dry_run)
        if dry_run:
            problems = _check(plan, ops)
            if problems:
                return ExecOutcome(False, "; ".join(problems), True)
        self.ansible.playbook_of[action] = "lab_apply.yml"
        for d in {o.device for o in ops}:
            self.ansible.hosts[d] = {"ansible_connection": "local"}
        self.ansible.extravars["netvigil_commands"] = cmds
        return self.ansible.execute(action, target, ops, params, dry_run=dry_run)
