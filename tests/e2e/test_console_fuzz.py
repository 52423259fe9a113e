"""Schemathesis against the console's own OpenAPI spec, on a live service watching the twin:
no generated request, valid (positive) or invalid (negative), may get a 5xx, and every
response must match the spec.

The operations are driven through schemathesis' Python API with hypothesis' ``@given``
rather than its pytest plugin, whose fixture loader does not work with the pytest 9 here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.e2e.console import LiveConsole, live_console

pytestmark = pytest.mark.e2e

EXAMPLES = 20  # per operation and mode


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    data: Path = tmp_path_factory.mktemp("console-fuzz")
    with live_console(data, speed=300.0) as console:
        yield console


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_server_error_on_generated_input(
    live: LiveConsole, mode: schemathesis.GenerationMode
) -> None:
    headers = {"Authorization": f"Bearer {live.tokens['admin']}"}
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json", headers=headers, timeout=60)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    calls: list[int] = []
    no_negative: list[str] = []
    for op in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(
                base_url=live.url,
                headers=headers,
                timeout=60,
                checks=[not_a_server_error, response_schema_conformance],
            )
            calls.append(response.status_code)

        try:
            check()
        except Unsatisfiable:
            # an operation without parameters or body has no invalid input to generate
            assert mode is schemathesis.GenerationMode.NEGATIVE, op.label
            no_negative.append(op.label)
    assert len(no_negative) < len(operations) / 2, no_negative
    assert len(calls) >= len(operations) - len(no_negative)  # every operation was called
    assert all(code < 500 for code in calls)
