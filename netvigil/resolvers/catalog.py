"""The remediation catalog: actions as data (``data/catalog.yaml``), checked and rendered here.

Each action names what it applies to, the faults it remedies, its risk class, preconditions,
parameters with bounds, its executor (gNMI operations or an Ansible playbook), a rollback, and
a verification (which KPI must recover on which entities, within how long). Code never
branches on an action's name: adding an action is adding a YAML entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netvigil.errors import ConfigError
from netvigil.resolvers.base import Op

__all__ = [
    "ActionSpec",
    "Catalog",
    "Facts",
    "Verification",
    "load_catalog",
    "playbook_dir",
]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(_Model):
    type: Literal["int", "float", "str"]
    default: int | float | str
    min: float | None = None
    max: float | None = None
    choices: list[str] = []

    def check(self, name: str, value: Any) -> int | float | str:
        cast = {"int": int, "float": float, "str": str}[self.type]
        try:
            v: int | float | str = cast(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {name}={value!r} is not {self.type}") from exc
        if isinstance(v, int | float) and not isinstance(v, bool):
            if self.min is not None and v < self.min:
                raise ValueError(f"parameter {name}={v} is below {self.min}")
            if self.max is not None and v > self.max:
                raise ValueError(f"parameter {name}={v} is above {self.max}")
        if self.choices and v not in self.choices:
            raise ValueError(f"parameter {name}={v!r} is not one of {self.choices}")
        return v


class OpSpec(_Model):
    device: str
    op: Literal["update", "replace", "delete"]
    path: str
    value: Any = None


class Verification(_Model):
    kpi: str = Field(description="metric name, e.g. if.oper_status")
    entities: Literal["link_ends", "src_if", "target"]
    op: Literal["<", "<=", ">", ">=", "=="]
    threshold: float
    within_s: float = Field(gt=0)

    def holds(self, value: float) -> bool:
        t = self.threshold
        return {
            "<": value < t,
            "<=": value <= t,
            ">": value > t,
            ">=": value >= t,
            "==": value == t,
        }[self.op]


class Preconditions(_Model):
    devices_reachable: bool = False
    link_up: bool = False
    min_confidence: float = 0.0


class ActionSpec(_Model):
    name: str = ""
    description: str
    target: Literal["link", "interface", "device"]
    remedies: list[str]
    risk: Literal["low", "medium", "high"]
    reversible: bool
    preconditions: Preconditions = Preconditions()
    parameters: dict[str, Param] = {}
    executor: Literal["gnmi", "ansible"]
    apply: list[OpSpec] = []
    rollback: list[OpSpec] = []
    playbook: str | None = None
    verification: Verification

    def params(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``given``, each checked against its bounds."""
        given = given or {}
        unknown = set(given) - set(self.parameters)
        if unknown:
            raise ValueError(f"{self.name} has no parameters {sorted(unknown)}")
        return {k: p.check(k, given.get(k, p.default)) for k, p in self.parameters.items()}

    def render(self, facts: Facts, params: dict[str, Any], *, rollback: bool = False) -> list[Op]:
        """The operations with their placeholders filled from facts and parameters."""
        values = {**facts.values(), **{k: str(v) for k, v in params.items()}}
        return [
            Op(
                device=_fill(o.device, values),
                op=o.op,
                path=_fill(o.path, values),
                value=_fill_value(o.value, values),
            )
            for o in (self.rollback if rollback else self.apply)
        ]

    def unmet(self, facts: Facts) -> list[str]:
        """The preconditions that do not hold (empty when the action may run)."""
        pre = self.preconditions
        out = []
        if facts.fault not in self.remedies:
            out.append(f"{self.name} remedies {self.remedies}, not {facts.fault or 'unknown'}")
        if pre.devices_reachable and facts.unreachable:
            out.append(f"devices unreachable: {', '.join(sorted(facts.unreachable))}")
        if pre.link_up and not facts.link_up:
            out.append(f"link {facts.target} is down")
        if facts.confidence < pre.min_confidence:
            out.append(f"root-cause confidence {facts.confidence:.2f} < {pre.min_confidence}")
        return out


@dataclass(frozen=True)
class Facts:
    """What is known about the target when an action is chosen."""

    target: str
    fault: str
    confidence: float
    a: str = ""
    b: str = ""
    a_if: str = ""
    b_if: str = ""
    src: str = ""
    src_if: str = ""
    orig_metric: int = 0
    link_up: bool = True
    unreachable: frozenset[str] = frozenset()

    def values(self) -> dict[str, str]:
        return {
            "target": self.target,
            "device": self.a or self.target,
            "a": self.a,
            "b": self.b,
            "a_if": self.a_if,
            "b_if": self.b_if,
            "src": self.src or self.a,
            "src_if": self.src_if or self.a_if,
            "orig_metric": str(self.orig_metric),
        }


def _fill(text: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ValueError(f"unknown placeholder {{{m.group(1)}}} in {text!r}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, text)


def _fill_value(value: Any, values: dict[str, str]) -> Any:
    if not isinstance(value, str):
        return value
    filled = _fill(value, values)
    if value.startswith("{") and value.endswith("}") and filled.lstrip("-").isdigit():
        return int(filled)  # a whole-value placeholder of a number stays a number
    return filled


class Catalog(_Model):
    version: Literal[1] = 1
    actions: dict[str, ActionSpec]

    def get(self, name: str) -> ActionSpec:
        try:
            return self.actions[name]
        except KeyError:
            raise ConfigError(
                f"no action {name!r} in the catalog: {sorted(self.actions)}"
            ) from None

    def for_fault(self, target_kind: str, fault: str) -> list[ActionSpec]:
        """Actions that remedy ``fault`` on a ``target_kind``, lowest risk first."""
        order = {"low": 0, "medium": 1, "high": 2}
        found = [
            a for a in self.actions.values() if a.target == target_kind and fault in a.remedies
        ]
        return sorted(found, key=lambda a: (order[a.risk], a.name))


def playbook_dir() -> Path:
    return Path(str(resources.files("netvigil.resolvers") / "data" / "playbooks"))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog in ``path``, or the built-in one."""
    if path is None:
        text = (resources.files("netvigil.resolvers") / "data" / "catalog.yaml").read_text()
        source = "built-in catalog"
    else:
        text, source = Path(path).read_text(), str(path)
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        for name, spec in (data.get("actions") or {}).items():
            if isinstance(spec, dict):
                spec.setdefault("name", name)
    try:
        cat = Catalog.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"invalid catalog {source}:\n" + "\n".join(lines)) from None
    for spec in cat.actions.values():
        if spec.executor == "ansible" and not spec.playbook:
            raise ConfigError(f"{source}: action {spec.name} runs ansible but names no playbook")
    return cat
