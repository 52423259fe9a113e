"""A real Neo4j 5.26 for the session (started by the project's provisioning), and the
parametrised ``store`` fixture every contract test runs against: embedded and Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.graph.base import TopologyStore
from netvigil.graph.memory import MemoryTopology
from provision.servers import neo4j as neo4j_server


@pytest.fixture(scope="session")
def neo4j_server_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run directory of a Neo4j started for this session on a free loopback port."""
    run_dir = Path(tmp_path_factory.mktemp("neo4j"))
    neo4j_server.start(run_dir)
    try:
        yield run_dir
    finally:
        neo4j_server.stop(run_dir)


@pytest.fixture(scope="session")
def neo4j_url(neo4j_server_dir: Path) -> str:
    """Bolt URL of the session's Neo4j."""
    return str(neo4j_server.status(neo4j_server_dir)["url"])


@pytest.fixture(scope="session")
def neo4j_store(neo4j_url: str) -> Iterator[TopologyStore]:
    from netvigil.graph.neo4j import Neo4jTopology

    store = Neo4jTopology(neo4j_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["memory", "neo4j"])
def store(request: pytest.FixtureRequest) -> TopologyStore:
    """An empty store of each implementation."""
    if request.param == "memory":
        return MemoryTopology()
    s: TopologyStore = request.getfixturevalue("neo4j_store")
    s.clear()
    return s
