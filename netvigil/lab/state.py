"""What a running lab is made of, kept in one JSON file so any later command can act on it.

The file lives in the lab directory (``$NETVIGIL_LAB_DIR``, default ``/run/netvigil-lab``;
``/run`` is emptied at boot, like the namespaces it describes). It is written before each
step of a bring-up that creates something (namespaces, the bridge, each process), so that a
bring-up that dies half-way still leaves a record of what to remove.

One host can run more than one lab, each in its own directory: the host-side names (the
namespaces, the management bridge and its veths) carry a tag made from the directory, so
no lab removes or reuses another's (the default directory's tag is empty: ``nvl-0``,
``nvlab0``, as before).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netvigil.lab.plan import LabPlan
from netvigil.lab.render import Credentials

__all__ = ["BRIDGE", "LabState", "Proc", "bridge_name", "lab_dir", "lab_tag", "netns_prefix"]

BRIDGE = "nvlab0"
DEFAULT_DIR = "/run/netvigil-lab"


def lab_dir() -> Path:
    return Path(os.environ.get("NETVIGIL_LAB_DIR", DEFAULT_DIR))


def lab_tag(path: Path | None = None) -> str:
    """The lab directory's tag in host-side names: empty for the default directory, else
    four hex digits of a hash of its absolute path (Linux names stay under 16 characters)."""
    path = (path or lab_dir()).absolute()
    if path == Path(DEFAULT_DIR):
        return ""
    return hashlib.sha256(str(path).encode()).hexdigest()[:4]


def netns_prefix(path: Path | None = None) -> str:
    """This lab directory's namespace prefix: ``nvl-`` (default directory), ``nvl<tag>-``."""
    return f"nvl{lab_tag(path)}-"


def bridge_name(path: Path | None = None) -> str:
    """This lab directory's management bridge: ``nvlab0`` (default directory), ``nvlab<tag>``."""
    tag = lab_tag(path)
    return f"nvlab{tag}" if tag else BRIDGE


@dataclass
class Proc:
    pid: int
    what: str
    router: str = ""


@dataclass
class LabState:
    plan: LabPlan
    topology: str
    credentials: Credentials = field(default_factory=Credentials)
    netns: list[str] = field(default_factory=list)
    bridge: str = ""
    procs: list[Proc] = field(default_factory=list)
    started: float = 0.0
    ready_s: float | None = None
    seed: int = 7

    @property
    def path(self) -> Path:
        return lab_dir() / "state.json"

    def save(self) -> None:
        d = lab_dir()
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
        data = {
            "version": 1,
            "plan": self.plan.to_dict(),
            "topology": self.topology,
            "credentials": asdict(self.credentials),
            "netns": self.netns,
            "bridge": self.bridge,
            "procs": [asdict(p) for p in self.procs],
            "started": self.started,
            "ready_s": self.ready_s,
            "seed": self.seed,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)

    @classmethod
    def load(cls) -> LabState | None:
        path = lab_dir() / "state.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(
            plan=LabPlan.from_dict(data["plan"]),
            topology=data["topology"],
            credentials=Credentials(**data["credentials"]),
            netns=list(data["netns"]),
            bridge=data["bridge"],
            procs=[Proc(**p) for p in data["procs"]],
            started=float(data["started"]),
            ready_s=data.get("ready_s"),
            seed=int(data.get("seed", 7)),
        )
