"""``netvigil graph`` through the CLI: the embedded store, and Neo4j by ``neo4j://``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import clean_env, shared_data

pytestmark = pytest.mark.integration

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
ENV = clean_env()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NETVIGIL, "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, **(env or {})},
    )


def test_show_and_blast_radius_on_the_embedded_store() -> None:
    shown = cli("show", "edge1", "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["kind"] == "device" and info["neighbors"] == ["core1", "core2"]
    br = json.loads(cli("blast-radius", "edge1", "--json").stdout)
    assert br["links"] == ["core1--edge1", "core2--edge1"] and br["devices"] == ["edge1"]
    bad = cli("show", "nosuch")
    assert bad.returncode == 2 and "unknown device or service 'nosuch'" in bad.stderr


def test_import_show_and_blast_radius_in_neo4j(neo4j_url: str) -> None:
    env = {"NETVIGIL_GRAPH__URL": neo4j_url}
    kdl = shared_data("topologies", "Kdl.graphml")
    imp = cli("import", "--replace", str(kdl), "--json", env=env)
    assert imp.returncode == 0, imp.stderr
    summary = json.loads(imp.stdout)
    assert (summary["devices"], summary["links"]) == (754, 899)
    # a second process reads what the first one wrote: the graph persists in Neo4j
    info = json.loads(cli("show", "Chicago", "--json", env=env).stdout)
    assert info["kind"] == "device" and len(info["links"]) == 6
    lk = info["links"][0]
    link = json.loads(cli("show", lk["id"], "--json", env=env).stdout)
    assert link["kind"] == "link" and link["source"] == "graphml"
    br = json.loads(cli("blast-radius", "Chicago", "--json", env=env).stdout)
    assert br["devices"][0] == "Chicago" and len(br["links"]) == 6


def test_unreachable_neo4j_is_a_clear_error() -> None:
    from provision.common import free_port

    env = {"NETVIGIL_GRAPH__URL": f"neo4j://127.0.0.1:{free_port()}"}
    res = cli("show", "x", env=env)
    assert res.returncode == 2
    assert "unreachable" in res.stderr and "graph.url" in res.stderr
