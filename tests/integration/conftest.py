"""Real servers for integration tests, started by the project's own provisioning (provision/)
on free ports and shared per test session; every test here is marked ``integration``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.servers import kafka as kafka_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The bootstrap address (``127.0.0.1:PORT``) of one Apache Kafka broker per session.
    Tests share it: give your topics and consumer groups a unique prefix."""
    run_dir = tmp_path_factory.mktemp("kafka-server")
    info = kafka_server.start(run_dir)
    try:
        yield str(info["bootstrap"])
    finally:
        kafka_server.stop(run_dir)
