"""A subset of ServiceNow's encoded query language (``sysparm_query``), as pure functions.

The emulator needs it to filter Table API lists; no maintained Python library parses encoded
queries (pysnow only *builds* them), so it is written here, small and fuzzed.

Covered: ``field=value``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` (string order, which is
time order for ServiceNow's ``YYYY-MM-DD HH:MM:SS`` dates), ``LIKE`` / ``NOTLIKE``
(contains, case-insensitive), ``STARTSWITH``, ``ENDSWITH``, ``IN`` (comma list),
``ISEMPTY``, ``ISNOTEMPTY``; ``^`` (AND),
``^OR`` (OR with the previous term: ``a=1^ORa=2^b=3`` is ``(a=1 OR a=2) AND b=3``, as in
ServiceNow), ``^NQ`` (a new query ORed with the previous one), ``ORDERBYfield`` and
``ORDERBYDESCfield``. A term naming a field the table lacks matches nothing (ServiceNow's
behaviour with ``glide.invalid_query.returns_no_rows`` set, the safe setting); a term that
cannot be parsed raises :class:`QueryError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Query", "QueryError", "Term", "apply", "parse"]

_TERM = re.compile(
    r"^(?P<field>[a-z0-9_.]+?)"
    r"(?P<op>!=|>=|<=|=|>|<|NOTLIKE|LIKE|STARTSWITH|ENDSWITH|ISNOTEMPTY|ISEMPTY|IN)(?P<value>.*)$",
    re.DOTALL,
)


class QueryError(ValueError):
    """An encoded query term that is not in the supported subset."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str

    def matches(self, record: Mapping[str, str]) -> bool:
        if self.field not in record:
            return False
        have = record[self.field] or ""
        low, want = have.lower(), self.value.lower()
        tests: dict[str, Callable[[], bool]] = {
            "=": lambda: have == self.value,
            "!=": lambda: have != self.value,
            ">=": lambda: have >= self.value,
            "<=": lambda: have <= self.value,
            ">": lambda: have > self.value,
            "<": lambda: have < self.value,
            "LIKE": lambda: want in low,
            "NOTLIKE": lambda: want not in low,
            "STARTSWITH": lambda: low.startswith(want),
            "ENDSWITH": lambda: low.endswith(want),
            "IN": lambda: have in self.value.split(","),
            "ISEMPTY": lambda: have == "",
            "ISNOTEMPTY": lambda: have != "",
        }
        return tests[self.op]()


@dataclass(frozen=True)
class Query:
    """Disjunction (``^NQ``) of conjunctions (``^``) of disjunctions (``^OR``) of terms."""

    groups: tuple[tuple[tuple[Term, ...], ...], ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    def matches(self, record: Mapping[str, str]) -> bool:
        if not self.groups:
            return True
        return any(all(any(t.matches(record) for t in ors) for ors in ands) for ands in self.groups)


def _term(text: str) -> Term:
    m = _TERM.match(text)
    if m is None:
        raise QueryError(f"unsupported encoded query term {text!r}")
    return Term(m["field"], m["op"], m["value"])


def parse(query: str) -> Query:
    """Parse an encoded query; the empty string matches everything."""
    groups: list[tuple[tuple[Term, ...], ...]] = []
    order: list[tuple[str, bool]] = []
    for part in query.split("^NQ") if query else []:
        ands: list[list[Term]] = []
        for raw in part.split("^"):
            if raw == "" or raw == "EQ":
                continue
            if raw.startswith("ORDERBYDESC"):
                order.append((raw[len("ORDERBYDESC") :], True))
            elif raw.startswith("ORDERBY"):
                order.append((raw[len("ORDERBY") :], False))
            elif raw.startswith("OR") and ands and not raw.startswith("OR="):
                ands[-1].append(_term(raw[2:]))
            else:
                ands.append([_term(raw)])
        if ands:
            groups.append(tuple(tuple(ors) for ors in ands))
    return Query(tuple(groups), tuple(order))


def apply(query: str, records: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The records matching ``query``, in its ORDERBY order (stable, insertion order else)."""
    q = parse(query)
    out = [r for r in records if q.matches(r)]
    for field, desc in reversed(q.order):
        out.sort(key=lambda r, f=field: r.get(f, ""), reverse=desc)  # type: ignore[misc]
    return out
