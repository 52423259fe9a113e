"""The Ansible executor: runs the action's playbook from the catalog with ansible-runner.

Each run gets its own private data directory (inventory, extra vars, artifacts) so runs never
share state; the artifacts stay there for the audit trail. The inventory maps each device to
its connection variables; extra vars carry the action, target, parameters and operations.
Dry run is Ansible's own check mode (``--check``): modules report what they would change.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netvigil.resolvers.base import ExecOutcome, Op

__all__ = ["AnsibleExecutor"]


class AnsibleExecutor:
    name = "ansible"
    runs_inline = False

    def __init__(
        self,
        playbooks: Path,
        hosts: Mapping[str, Mapping[str, Any]],
        *,
        playbook_of: Mapping[str, str],
        work_dir: Path | None = None,
        extravars: Mapping[str, Any] | None = None,
    ) -> None:
        self.playbooks = Path(playbooks)
        self.hosts = {k: dict(v) for k, v in hosts.items()}
        self.playbook_of = dict(playbook_of)
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="netvigil-ansible-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.extravars = dict(extravars or {})
        self.last_artifacts: Path | None = None

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        import ansible_runner  # heavy: imported only when a playbook runs

        playbook = self.playbook_of.get(action)
        if not playbook or not (self.playbooks / playbook).exists():
            return ExecOutcome(False, f"no playbook for {action} in {self.playbooks}", dry_run)
        devices = sorted({o.device for o in ops} or {target.partition(":")[0]})
        missing = [d for d in devices if d not in self.hosts]
        if missing:
            return ExecOutcome(False, f"no inventory entry for {', '.join(missing)}", dry_run)
        private = Path(tempfile.mkdtemp(prefix=f"{action}-", dir=self.work_dir))
        inventory = {"all": {"hosts": {d: self.hosts[d] for d in devices}}}
        extravars = {
            **self.extravars,
            "netvigil_action": action,
            "netvigil_target": target,
            "netvigil_devices": devices,
            "netvigil_params": params,
            "netvigil_ops": [
                {"device": o.device, "op": o.op, "path": o.path, "value": o.value} for o in ops
            ],
        }
        r = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str((self.playbooks / playbook).resolve()),
            inventory=inventory,
            extravars=extravars,
            cmdline="--check --diff" if dry_run else None,
            quiet=True,
            envvars={
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOST_KEY_CHECKING": "False",
                # ansible-playbook lives next to this interpreter (the virtualenv)
                "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            },
        )
        self.last_artifacts = private
        stats = r.stats or {}
        ok = r.status == "successful" and r.rc == 0
        detail = (
            f"ansible-runner {playbook}: {r.status} rc={r.rc}; "
            f"ok={sum((stats.get('ok') or {}).values())} "
            f"changed={sum((stats.get('changed') or {}).values())} "
            f"failed={sum((stats.get('failures') or {}).values())}"
        )
        return ExecOutcome(ok, detail, dry_run, {"artifacts": str(private), "stats": stats})
