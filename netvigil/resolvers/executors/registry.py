"""Executors by name (``coordinator.executor``), built from the settings like the graph and
ticket backends are: ``twin``, ``gnmi``, ``ansible``, ``lab``, ``lab-ansible``, ``none``.

Device-facing executors (gNMI, Ansible) import their libraries only when they run. What an
executor needs to reach devices comes from the settings: gNMI Set goes to ``gnmi.targets``
(the targets NetVigil streams from), Ansible runs the catalog's playbooks on the hosts of
``coordinator.ansible_inventory``; the lab's executors act on the routers of the running lab
(:mod:`netvigil.lab`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netvigil.config import Settings
from netvigil.errors import ConfigError
from netvigil.resolvers.base import ExecOutcome, Executor, Op
from netvigil.resolvers.catalog import Catalog, playbook_dir

__all__ = ["EXECUTORS", "ExecutorContext", "NoExecutor", "open_executor"]


class NoExecutor:
    """Refuses every execution: for a deployment that only proposes."""

    name = "none"
    runs_inline = True

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        return ExecOutcome(False, "no executor configured (coordinator.executor = none)", dry_run)


@dataclass(frozen=True)
class ExecutorContext:
    """What building an executor may use besides the settings."""

    settings: Settings
    catalog: Catalog
    data_dir: Path
    twin: Executor | None = None
    """The twin's executor when the service runs the twin."""


def _twin(ctx: ExecutorContext) -> Executor:
    return ctx.twin or NoExecutor()  # the default setting, without a twin: propose only


def _gnmi(ctx: ExecutorContext) -> Executor:
    from netvigil.resolvers.executors.gnmi import GnmiExecutor, GnmiTarget

    targets = {
        t.device or t.host: GnmiTarget(
            t.host,
            t.port,
            username=t.username,
            password=t.password.get_secret_value(),
            insecure=t.insecure,
        )
        for t in ctx.settings.gnmi.targets
    }
    if not targets:
        raise ConfigError(
            "coordinator.executor = gnmi needs the devices' gNMI targets: set gnmi.targets"
        )
    return GnmiExecutor(targets)


def _ansible(ctx: ExecutorContext) -> Executor:
    from netvigil.resolvers.executors.ansible import AnsibleExecutor

    inv = ctx.settings.coordinator.ansible_inventory
    if inv is None:
        raise ConfigError(
            "coordinator.executor = ansible needs coordinator.ansible_inventory "
            "(a YAML file mapping each device to its Ansible host variables)"
        )
    try:
        hosts = yaml.safe_load(Path(inv).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"coordinator.ansible_inventory = {inv}: {exc}") from None
    if not isinstance(hosts, dict) or not all(isinstance(v, dict) for v in hosts.values()):
        raise ConfigError(
            f"coordinator.ansible_inventory = {inv}: needs a mapping of device -> host variables"
        )
    playbooks = {n: s.playbook for n, s in ctx.catalog.actions.items() if s.playbook}
    return AnsibleExecutor(
        playbook_dir(), hosts, playbook_of=playbooks, work_dir=ctx.data_dir / "ansible-runs"
    )


def _lab(ctx: ExecutorContext) -> Executor:
    from netvigil.lab.hook import lab_executor

    executor: Executor = lab_executor(ctx.settings.coordinator.executor, ctx.data_dir)
    return executor


EXECUTORS: dict[str, Callable[[ExecutorContext], Executor]] = {
    "twin": _twin,
    "gnmi": _gnmi,
    "ansible": _ansible,
    "lab": _lab,
    "lab-ansible": _lab,
    "none": lambda ctx: NoExecutor(),
}


def open_executor(ctx: ExecutorContext) -> Executor:
    """The executor ``coordinator.executor`` names."""
    name = ctx.settings.coordinator.executor
    if name not in EXECUTORS:
        raise ConfigError(
            f"coordinator.executor = {name!r}: choose one of {', '.join(sorted(EXECUTORS))}"
        )
    return EXECUTORS[name](ctx)
