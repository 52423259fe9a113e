"""``netvigil risks``, ``netvigil autonomy record|promote``, ``netvigil feedback
judge|suppressions|lift`` over the data directory the service shares."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from netvigil.cli import main
from netvigil.events import Pattern
from netvigil.resolvers.audit import AuditLog
from netvigil.resolvers.feedback import FeedbackStore
from netvigil.resolvers.record import TrackRecord


def test_judge_list_and_lift_from_the_command_line(tmp_path: Path) -> None:
    run, data = CliRunner(), ["--data-dir", str(tmp_path)]
    r = run.invoke(main, ["feedback", "judge", "incident", "fp1", "false", "--by", "otto", *data])
    assert r.exit_code == 0, r.output
    (j,) = FeedbackStore(tmp_path / "feedback.db").judgements()
    assert (j.subject, j.verdict, j.scope, j.source, j.actor) == (
        "fp1",
        "false",
        "pattern",
        "cli",
        "otto",
    )
    store = FeedbackStore(tmp_path / "feedback.db")
    p = Pattern(entity="r1:eth0", signal="if.out_util", kind="threshold")
    sup, _ = store.suppress(p, subject="fp1", actor="otto", reason="backup", ts=1.0)
    listed = run.invoke(main, ["feedback", "suppressions", "--json", *data])
    assert json.loads(listed.output)[0]["pattern"].endswith("at any time")
    assert run.invoke(main, ["feedback", "lift", sup.id, "--by", "ada", *data]).exit_code == 0
    again = run.invoke(main, ["feedback", "lift", sup.id, *data])
    assert again.exit_code == 1 and "already lifted" in again.output
    assert any(r.action == "suppression.lifted" for r in AuditLog(tmp_path / "audit.db").records())


def test_record_and_a_promotion_only_when_earned(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "domains:\n  all:\n    phase: passive\n    promotion:\n"
        "      semi-autonomous: {min_verified_recommendations: 1, min_judged: 1}\n"
    )
    cfg = tmp_path / "netvigil.yaml"
    cfg.write_text(f"coordinator:\n  policy: {policy}\n")
    run = CliRunner()
    args = ["--config", str(cfg), "--data-dir", str(tmp_path)]
    shown = run.invoke(main, ["autonomy", "record", *args])
    assert shown.exit_code == 0 and "semi-autonomous not earned" in shown.output
    no = run.invoke(main, ["autonomy", "promote", "all", "semi-autonomous", *args])
    assert no.exit_code != 0 and "has not earned" in no.output
    TrackRecord(tmp_path / "record.db").record("all", "recommendation", "x", True, ts=1.0)
    rows = json.loads(run.invoke(main, ["autonomy", "record", "--json", *args]).output)
    assert rows[0]["promotion_earned"] is True
    yes = run.invoke(main, ["autonomy", "promote", "all", "semi-autonomous", "--by", "ada", *args])
    assert yes.exit_code == 0, yes.output
    rows = json.loads(run.invoke(main, ["autonomy", "record", "--json", *args]).output)
    assert rows[0]["phase"] == "semi-autonomous"
    empty = run.invoke(main, ["risks", "--json", *args])
    assert empty.exit_code == 0 and json.loads(empty.output) == []
