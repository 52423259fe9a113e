"""What each outbox operation does in ServiceNow, and how human decisions are read back.

Every operation is safe to send again: creations look the record up by ``correlation_id``
first, and a work note carries a tag (``[netvigil op CORR#ID]``) that is looked for in
``sys_journal_field`` before a retry writes it again. Field values follow ServiceNow's
defaults: incident state 2 = In Progress, 6 = Resolved, 7 = Closed; change state -4 = Assess
(a normal change asks for approval), -2 = Scheduled, 0 = Review, 3 = Closed, 4 = Canceled.
A person deciding a change through NetVigil decides its ``sysapproval_approver`` records, as
approving in ServiceNow's own UI does; the NetVigil user then needs ServiceNow's right to
decide them (the approver, or the ``approval_admin`` role).
"""

from __future__ import annotations

from typing import Any

from netvigil.resolvers.tickets.outbox import OutboxOp, OutboxStore
from netvigil.resolvers.tickets.snow_client import SnowClient, SnowRejected

__all__ = ["STANDARD_TEMPLATE", "SnowWriter"]

#: the standard change template (std_change_record_producer) NetVigil files level 2-3 under
STANDARD_TEMPLATE = "NetVigil pre-approved network action"

# NetVigil change state -> ServiceNow change_request fields
_CHANGE_FIELDS: dict[str, dict[str, str]] = {
    "requested": {"state": "-4"},
    "approved": {"state": "-2"},
    "rejected": {"state": "4", "approval": "rejected"},
    "implemented": {"state": "0"},
    "failed": {"state": "3", "close_code": "unsuccessful"},
    "closed": {"state": "3", "close_code": "successful"},
}


#: problem state Closed (ServiceNow's problem states: 101 New ... 107 Closed)
_PROBLEM_CLOSED = "107"
#: the close code NetVigil itself resolves incidents with (a human's is anything else)
OWN_CLOSE_CODE = "Solved (Permanently)"


def _tag(op: OutboxOp) -> str:
    return f"[netvigil op {op.correlation_id}#{op.id}]"


class SnowWriter:
    """Applies outbox operations to ServiceNow and polls it, over one :class:`SnowClient`."""

    def __init__(self, client: SnowClient, store: OutboxStore) -> None:
        self.client, self.store = client, store
        self.watermarks: dict[str, str] = {}  # table -> newest sys_updated_on seen by a poll

    def _sys_id(self, table: str, correlation_id: str) -> str:
        row = self.store.row(table, correlation_id)
        if row is None or not row["sys_id"]:
            raise SnowRejected(f"{table} {correlation_id} was never created in ServiceNow")
        return row["sys_id"]

    def _ci(self, device: str) -> str:
        rows = self.client.find("cmdb_ci", f"name={device}", limit=1)
        return rows[0]["sys_id"] if rows else ""

    def _note_written(self, op: OutboxOp, sys_id: str) -> bool:
        if op.attempts == 0:  # first try: nothing can be there yet
            return False
        q = f"element_id={sys_id}^element=work_notes^valueLIKE{_tag(op)}"
        return bool(self.client.find("sys_journal_field", q, limit=1))

    def _existing(self, table: str, correlation_id: str) -> dict[str, str] | None:
        rows = self.client.find(table, f"correlation_id={correlation_id}", limit=1)
        return rows[0] if rows else None

    def _create_once(
        self, mirror: str, table: str, corr: str, p: dict[str, Any], **fields: str
    ) -> None:
        """Create the NetVigil record of ``table`` for ``corr`` unless it exists; keep its
        sys_id and number in the ``mirror`` table."""
        rec = self._existing(table, corr)
        if rec is None:
            rec = self.client.create(
                table,
                {
                    "short_description": p["title"][:160],
                    "description": p["description"],
                    "correlation_id": corr,
                    "correlation_display": "NetVigil",
                    "category": "network",
                    **fields,
                },
            )
        self.store.set(mirror, corr, sys_id=rec["sys_id"], number=rec["number"])

    def apply(self, op: OutboxOp) -> None:
        """Send one operation; idempotent, so it may be sent again after any failure."""
        p, corr = op.payload, op.correlation_id
        if op.kind == "open_incident":
            urgency = {"critical": "1", "major": "1", "minor": "2"}.get(p["severity"], "3")
            self._create_once("tickets", "incident", corr, p, urgency=urgency, impact="2")
        elif op.kind in ("note", "resolve", "reopen"):
            sys_id = self._sys_id("tickets", corr)
            text = f"{p.get('text') or p.get('note')}\n{_tag(op)}"
            data: dict[str, Any] = {"work_notes": text}
            if op.kind == "resolve":
                data = {
                    "state": "6",
                    "close_code": OWN_CLOSE_CODE,
                    "close_notes": p["note"],
                    "work_notes": text,
                }
            elif op.kind == "reopen":  # Resolved -> In Progress, as an agent reopens by hand
                data = {"state": "2", "work_notes": text}
            if self._note_written(op, sys_id):
                data.pop("work_notes")
            if data:
                self.client.patch("incident", sys_id, data)
        elif op.kind == "open_problem":
            self._create_once("problems", "problem", corr, p)
        elif op.kind in ("problem_note", "close_problem"):
            sys_id = self._sys_id("problems", corr)
            text = f"{p.get('text') or p.get('note')}\n{_tag(op)}"
            data = {"work_notes": text}
            if op.kind == "close_problem":
                data.update(
                    {
                        "state": _PROBLEM_CLOSED,
                        "resolution_code": p["code"],
                        "cause_notes": p["note"],
                    }
                )
            if self._note_written(op, sys_id):
                data.pop("work_notes")
            self.client.patch("problem", sys_id, data)
        elif op.kind == "open_change":
            self._open_change(op)
        elif op.kind == "decide_change":
            self._decide_change(op)
        elif op.kind == "update_change":
            sys_id = self._sys_id("changes", corr)
            data = {**_CHANGE_FIELDS[p["state"]], "work_notes": f"{p['note']}\n{_tag(op)}"}
            if self._note_written(op, sys_id):
                data.pop("work_notes")
            self.client.update_change(sys_id, data)
        else:
            raise SnowRejected(f"unknown outbox operation {op.kind!r}")

    def _open_change(self, op: OutboxOp) -> None:
        """Create the change (or find it), request approval of a normal change, link every
        device's CI (``cmdb_ci`` = the first, ``task_ci`` rows = all, as "Affected CIs"), point
        the incident's ``rfc`` at it and give the incident that CI if it has none; each step
        is skipped when already done."""
        p, corr = op.payload, op.correlation_id
        cis = [c for c in (self._ci(d) for d in p["devices"]) if c]
        rec = self._existing("change_request", corr)
        if rec is None:
            data = {
                "short_description": p["title"][:160],
                "description": p["description"],
                "correlation_id": corr,
                "correlation_display": "NetVigil",
                "category": "Network",
                "cmdb_ci": cis[0] if cis else "",
            }
            if p["kind"] == "standard":
                tpl = self.client.find("std_change_record_producer", f"name={STANDARD_TEMPLATE}", 1)
                if not tpl:
                    raise SnowRejected(f"no standard change template {STANDARD_TEMPLATE!r}")
                rec = self.client.create_change("standard", data, tpl[0]["sys_id"])
            else:
                rec = self.client.create_change("normal", data)
        self.store.set("changes", corr, sys_id=rec["sys_id"], number=rec["number"])
        if p["kind"] == "normal" and rec.get("state") == "-5":
            self.client.update_change(rec["sys_id"], {"state": "-4"})  # Assess: ask approval
        for ci in cis:
            if not self.client.find("task_ci", f"task={rec['sys_id']}^ci_item={ci}", 1):
                self.client.create("task_ci", {"task": rec["sys_id"], "ci_item": ci})
        inc = self.store.row("tickets", p["incident"])
        if inc is not None and inc["sys_id"]:
            link = {"rfc": rec["sys_id"]}
            known = self.client.find("incident", f"sys_id={inc['sys_id']}", 1)
            if cis and known and not known[0].get("cmdb_ci"):
                link["cmdb_ci"] = cis[0]  # the incident's CI, unless someone set one
            self.client.patch("incident", inc["sys_id"], link)

    def _decide_change(self, op: OutboxOp) -> None:
        """Decide the change's open approval records (``sysapproval_approver``) as the person
        did in NetVigil, with a tagged work note on the change; if ServiceNow had already
        decided (someone approved there first), its decision stands. Either way the decision
        is recorded once as a human update, which the coordinator acts on. A decision
        ServiceNow refuses puts the change back to ``requested`` in the mirror."""
        p, corr = op.payload, op.correlation_id
        row = self.store.row("changes", corr)
        if row is not None and row["state"] != "deciding":
            return  # recorded by an earlier attempt that stopped before the outbox knew
        try:
            sys_id = self._sys_id("changes", corr)
            wanted = "approved" if p["approved"] else "rejected"
            rec = self._change_rec(sys_id)
            if rec.get("approval") not in ("approved", "rejected"):
                q = f"sysapproval={sys_id}^state=requested"
                for approval in self.client.find("sysapproval_approver", q, limit=20):
                    note = f"{wanted.capitalize()} by {p['who']} in NetVigil"
                    self.client.patch(
                        "sysapproval_approver",
                        approval["sys_id"],
                        {"state": wanted, "comments": note},
                    )
                rec = self._change_rec(sys_id)
            decided = rec.get("approval", "")
            if decided not in ("approved", "rejected"):
                raise SnowRejected(
                    f"change {rec.get('number', corr)} has no approval to decide "
                    f"(approval is {decided or 'unknown'})"
                )
        except SnowRejected:
            self.store.set("changes", corr, state="requested")
            raise
        if not self._note_written(op, sys_id):
            text = f"{decided.capitalize()} by {p['who']} through NetVigil\n{_tag(op)}"
            if decided != wanted:
                text = f"{p['who']}'s decision came after ServiceNow's ({decided})\n{_tag(op)}"
            self.client.update_change(sys_id, {"work_notes": text})
        who = p["who"] if decided == wanted else rec.get("sys_updated_by", "")
        with self.store.tx():
            self.store.set("changes", corr, state=decided)
            self.store.human(f"change_{decided}", corr, rec.get("number", ""), who)

    def _change_rec(self, sys_id: str) -> dict[str, str]:
        found = self.client.find("change_request", f"sys_id={sys_id}", 1)
        return found[0] if found else {}

    def _since(self, table: str) -> str:
        """Only records updated since the last poll saw (ServiceNow's own clock; ``>=`` so
        a record updated in the same second is read again, which is harmless)."""
        mark = self.watermarks.get(table)
        return f"^sys_updated_on>={mark}" if mark else ""

    def _seen(self, table: str, recs: list[dict[str, str]]) -> list[dict[str, str]]:
        stamps = [r.get("sys_updated_on", "") for r in recs]
        if any(stamps):
            self.watermarks[table] = max(stamps)
        return recs

    def _judged(self) -> None:
        """Incidents NetVigil had resolved whose close code a human changed since (a
        judgement after the fact: e.g. "False positive"); each code recorded once."""
        resolved = {r["sys_id"]: r for r in self.store.rows("tickets", "resolved")}
        if not resolved:
            return
        q = f"correlation_display=NetVigil^close_code!={OWN_CLOSE_CODE}^close_codeISNOTEMPTY"
        q += self._since("incident_judged")
        for rec in self._seen("incident_judged", self.client.find("incident", q)):
            row = resolved.get(rec["sys_id"])
            code = rec.get("close_code", "")
            if row is None or not code or self.store.judged(row["correlation_id"], code):
                continue
            self.store.human(
                "incident_judged",
                row["correlation_id"],
                rec["number"],
                rec.get("close_notes") or rec.get("sys_updated_by", ""),
                code,
            )

    def poll(self) -> None:
        """Look for incidents resolved and changes decided by humans in ServiceNow; record
        each once as a human update in the store."""
        mine = {r["sys_id"]: r for r in self.store.rows("tickets", "open")}
        if mine:
            q = "state=6^ORstate=7^correlation_display=NetVigil" + self._since("incident")
            for rec in self._seen("incident", self.client.find("incident", q)):
                row = mine.get(rec["sys_id"])
                if row is not None and "resolve" not in self.store.pending_kinds(
                    row["correlation_id"]
                ):
                    with self.store.tx():
                        self.store.set("tickets", row["correlation_id"], state="resolved")
                        self.store.human(
                            "incident_resolved",
                            row["correlation_id"],
                            rec["number"],
                            rec.get("close_notes") or rec.get("sys_updated_by", ""),
                            rec.get("close_code", ""),
                        )
        self._judged()
        waiting = {r["sys_id"]: r for r in self.store.rows("changes", "requested")}
        if waiting:
            q = "approval=approved^ORapproval=rejected^correlation_display=NetVigil"
            q += self._since("change_request")
            for rec in self._seen("change_request", self.client.find("change_request", q)):
                row = waiting.get(rec["sys_id"])
                if row is not None:
                    state = rec["approval"]
                    with self.store.tx():
                        self.store.set("changes", row["correlation_id"], state=state)
                        self.store.human(
                            f"change_{state}",
                            row["correlation_id"],
                            rec["number"],
                            rec.get("sys_updated_by", ""),
                        )
