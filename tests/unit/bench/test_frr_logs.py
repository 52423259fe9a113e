"""The FRR corpus's pure parts: line parsing, format matching, confusions."""

from __future__ import annotations

from pathlib import Path

from bench.frr_corpus import read_corpus
from bench.frr_formats import fits, format_pieces
from bench.frr_logs import confusions


def test_a_corpus_line_gives_daemon_id_and_the_body_without_prefix_id_or_error_code(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "c.log"
    corpus.write_text(
        "r1 2026/12/06 21:49:57.123 ZEBRA: [KMXEB-K771Y] netlink_parse_info: seq=0\n"
        "r2 2026/12/06 21:49:58.001 ZEBRA: [NNACN-54BDA][EC 4043309110] Disabling MPLS\n"
        "r2 2026/12/06 21:49:58 OSPF: [XKX19-CCEJ5]   IFA_LOCAL     10.0.0.1/8 \n"
        "r3 not an FRR line\n"
    )
    rows, unparsed = read_corpus(corpus)
    assert unparsed == 1
    assert [(r["router"], r["daemon"], r["uid"]) for r in rows] == [
        ("r1", "ZEBRA", "KMXEB-K771Y"),
        ("r2", "ZEBRA", "NNACN-54BDA"),
        ("r2", "OSPF", "XKX19-CCEJ5"),
    ]
    assert rows[0]["body"] == "netlink_parse_info: seq=0"
    assert rows[1]["body"] == "Disabling MPLS"
    assert rows[2]["body"] == "  IFA_LOCAL     10.0.0.1/8 "  # spaces kept, as FRR wrote them


def test_format_pieces_split_at_conversions_and_frr_extensions_but_not_at_percent_percent() -> None:
    assert format_pieces("%s(%u):%pRN: Evaluate RNH, %s") == (
        "",
        "(",
        "):",
        ": Evaluate RNH, ",
        "",
    )
    assert format_pieces("load %d%% on %-10s") == ("load ", "% on ", "")
    assert format_pieces("no conversion") == ("no conversion",)


def test_fits_matches_the_output_of_a_format_and_rejects_near_misses() -> None:
    pieces = format_pieces("%s(%u):%pRN: Evaluate RNH, %s")
    assert fits(pieces, "default(0):172.16.1.0/24: Evaluate RNH, (force)")
    assert fits(pieces, "default(0):172.16.1.0/24: Evaluate RNH, ")  # %s may be empty
    assert not fits(pieces, "default(0):172.16.1.0/24: Evaluate RNH,")
    assert not fits(pieces, "default 0 172.16.1.0/24: Evaluate RNH, x")
    many = format_pieces("%s %s %s %s %s %s %s %s %s %s %s %s: end")
    assert not fits(many, "a " * 200 + "almost the end")  # linear, not exponential, on a miss


def test_confusions_rank_merges_and_splits_by_the_lines_they_cost() -> None:
    truth = ["A", "A", "B", "C", "C", "C"]
    parsed = ["1", "1", "1", "2", "3", "3"]
    messages = ["a x", "a y", "b", "c 1", "c 2", "c 3"]
    templates = ["<*> <*>", "<*> <*>", "<*> <*>", "c 1", "c <*>", "c <*>"]
    out = confusions(truth, parsed, messages, templates)
    assert [m["ids_total"] for m in out["merged"]] == [2]
    assert out["merged"][0]["lines"] == 3
    assert [i["id"] for i in out["merged"][0]["ids"]] == ["A", "B"]
    assert [(s["id"], s["templates_total"], s["lines"]) for s in out["split"]] == [("C", 2, 3)]
    assert out["split"][0]["templates"][0]["template"] == "c <*>"
    assert (out["merged_templates"], out["merged_lines"]) == (1, 3)
    assert (out["split_ids"], out["split_lines"]) == (1, 3)
    assert out["split"][0]["same_length"] and out["split_lines_same_length"] == 3
