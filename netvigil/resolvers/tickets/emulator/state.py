"""The records of the emulated ServiceNow instance (see
:mod:`~netvigil.resolvers.tickets.emulator.server`), kept apart from the HTTP layer so they
survive the server going down and tests can act as a human on them directly. Values are
strings, as the Table API returns them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from netvigil.resolvers.tickets.snow_ops import STANDARD_TEMPLATE

__all__ = ["STANDARD_TEMPLATE", "Faults", "SnowState", "default_state"]

_PREFIX = {
    "incident": ("INC", 10001),
    "change_request": ("CHG", 30001),
    "problem": ("PRB", 40001),
}
_TABLES = {
    "incident",
    "problem",
    "change_request",
    "cmdb_ci",
    "sys_journal_field",
    "std_change_record_producer",
    "sys_user",
    "task_ci",
    "sysapproval_approver",
}
_JOURNAL = ("work_notes", "comments")


@dataclass
class Faults:
    status: int | None = None
    count: int = 0  # requests left to fail; -1 = until cleared
    retry_after: float = 1.0
    delay_s: float = 0.0


@dataclass
class SnowState:
    """The instance's records and who may log in; survives the server going down."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (password, role)
    tokens: dict[str, str] = field(default_factory=dict)  # bearer token -> user name
    tables: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=lambda: {t: {} for t in _TABLES}
    )
    counters: dict[str, int] = field(
        default_factory=lambda: {t: n for t, (_, n) in _PREFIX.items()}
    )
    faults: Faults = field(default_factory=Faults)
    requests: int = 0

    def insert(self, table: str, values: dict[str, Any], user: str = "system") -> dict[str, str]:
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        rec = {k: "" if v is None else str(v) for k, v in values.items() if k not in _JOURNAL}
        rec.update(
            sys_id=uuid.uuid4().hex,
            sys_created_on=now,
            sys_updated_on=now,
            sys_created_by=user,
            sys_updated_by=user,
            sys_mod_count="0",
        )
        if table in _PREFIX:
            prefix, n = _PREFIX[table][0], self.counters[table]
            self.counters[table] = n + 1
            rec["number"] = f"{prefix}{n:07d}"
            rec.setdefault("state", {"incident": "1", "problem": "101"}.get(table, "-5"))
            rec.setdefault("correlation_id", "")
            rec.setdefault("cmdb_ci", "")
        self.tables[table][rec["sys_id"]] = rec
        self._journal(table, rec, values, user)
        return rec

    def update(self, table: str, rec: dict[str, str], values: dict[str, Any], user: str) -> None:
        for k, v in values.items():
            if k not in _JOURNAL and k != "sys_id":
                rec[k] = "" if v is None else str(v)
        self._touch(rec, user)
        self._journal(table, rec, values, user)
        if (
            table == "change_request"
            and rec.get("type") == "normal"
            and values.get("state") in ("-4", -4)
            and rec.get("approval") != "requested"
        ):
            rec["approval"] = "requested"  # Assess asks the change's approver (the CAB)
            approval = {"sysapproval": rec["sys_id"], "source_table": table, "state": "requested"}
            self.insert("sysapproval_approver", {**approval, "approver": "cab"}, "system")
        if table == "sysapproval_approver" and values.get("state") in ("approved", "rejected"):
            change = self.tables["change_request"].get(rec.get("sysapproval", ""))
            if change is not None and change.get("approval") == "requested":
                change["approval"] = str(values["state"])
                self._touch(change, user)

    @staticmethod
    def _touch(rec: dict[str, str], user: str) -> None:
        rec["sys_updated_on"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        rec["sys_updated_by"] = user
        rec["sys_mod_count"] = str(int(rec.get("sys_mod_count", "0")) + 1)

    def _journal(self, table: str, rec: dict[str, str], values: dict[str, Any], user: str) -> None:
        for element in _JOURNAL:
            if values.get(element):
                self.insert(
                    "sys_journal_field",
                    {
                        "name": table,
                        "element": element,
                        "element_id": rec["sys_id"],
                        "value": values[element],
                    },
                    user,
                )
        for element in _JOURNAL:
            rec.pop(element, None)

    def journal(self, sys_id: str, element: str = "work_notes") -> list[str]:
        rows = self.tables["sys_journal_field"].values()
        return [r["value"] for r in rows if r["element_id"] == sys_id and r["element"] == element]


def default_state(users: dict[str, tuple[str, str]] | None = None) -> SnowState:
    """An instance with users, the standard-change template NetVigil uses and no records."""
    state = SnowState(
        users=users or {"netvigil": ("netvigil", "itil"), "viewer": ("viewer", "snc_read_only")}
    )
    state.insert("std_change_record_producer", {"name": STANDARD_TEMPLATE, "active": "true"})
    return state
