"""The gNMI executor: one gNMI Set per device with all of the action's operations, through
pygnmi. A Set is atomic per device by the gNMI specification, so a device is changed wholly
or not at all. Dry run reads the current value of every path (gNMI Get) and reports the
planned change: it proves the device answers and the paths exist, and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netvigil.resolvers.base import ExecOutcome, Op

__all__ = ["GnmiExecutor", "GnmiTarget"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GnmiTarget:
    host: str
    port: int
    username: str = ""
    password: str = ""
    insecure: bool = True
    timeout_s: int = 10


class GnmiExecutor:
    """Applies operations to devices named in ``targets`` (device name -> gNMI target)."""

    name = "gnmi"
    runs_inline = False

    def __init__(self, targets: Mapping[str, GnmiTarget], *, encoding: str = "json_ietf") -> None:
        self.targets = dict(targets)
        self.encoding = encoding

    def execute(
        self, action: str, target: str, ops: list[Op], params: dict[str, Any], *, dry_run: bool
    ) -> ExecOutcome:
        from pygnmi.client import gNMIclient  # grpc loads only when gNMI is used

        by_device: dict[str, list[Op]] = {}
        for op in ops:
            by_device.setdefault(op.device, []).append(op)
        missing = sorted(set(by_device) - set(self.targets))
        if missing:
            return ExecOutcome(False, f"no gNMI target for {', '.join(missing)}", dry_run)
        done: dict[str, Any] = {}
        for device, dev_ops in by_device.items():
            t = self.targets[device]
            try:
                with gNMIclient(
                    target=(t.host, t.port),
                    username=t.username,
                    password=t.password,
                    insecure=t.insecure,
                    gnmi_timeout=t.timeout_s,
                ) as gc:
                    if dry_run:
                        paths = sorted({o.path for o in dev_ops})
                        done[device] = gc.get(path=paths, encoding=self.encoding)
                        continue
                    update = [(o.path, o.value) for o in dev_ops if o.op == "update"]
                    replace = [(o.path, o.value) for o in dev_ops if o.op == "replace"]
                    delete = [o.path for o in dev_ops if o.op == "delete"]
                    # a disable-then-enable on one path must be two Sets to take effect
                    for batch in _batches(update):
                        done.setdefault(device, []).append(
                            gc.set(update=batch, encoding=self.encoding)
                        )
                    if replace or delete:
                        done.setdefault(device, []).append(
                            gc.set(
                                replace=replace or None,
                                delete=delete or None,
                                encoding=self.encoding,
                            )
                        )
            except Exception as exc:  # pygnmi raises gNMIException and grpc errors
                log.warning("gNMI %s on %s failed: %s", action, device, exc)
                verb = "Get" if dry_run else "Set"
                detail = f"gNMI {verb} on {device} ({t.host}:{t.port}) failed: {exc}"
                return ExecOutcome(False, detail, dry_run, {"done": sorted(done)})
        verb = "read" if dry_run else "set"
        return ExecOutcome(
            True,
            f"gNMI {verb} {len(ops)} paths on {', '.join(sorted(by_device))}",
            dry_run,
            {"responses": {d: str(r)[:500] for d, r in done.items()}},
        )


def _batches(update: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Split updates so a path never appears twice in one Set (later values would win)."""
    out: list[list[tuple[str, Any]]] = []
    seen: set[str] = set()
    for path, value in update:
        if not out or path in seen:
            out.append([])
            seen = set()
        out[-1].append((path, value))
        seen.add(path)
    return out
