"""The Kafka runtime is reached through ``netvigil.streams.kafka`` only, and loads its client
libraries when first used: the CLI and the service start without them."""

from __future__ import annotations

import subprocess
import sys

import netvigil.streams.kafka as kafka


def test_the_cli_and_the_service_start_without_loading_a_kafka_client() -> None:
    code = (
        "import sys, netvigil.cli, netvigil.service, netvigil.streams.kafka\n"
        "print(sorted(m for m in ('confluent_kafka', 'faust', 'aiokafka') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in kafka.__all__:
        assert callable(getattr(kafka, name)), name
    assert kafka.KafkaRuntime.__module__ == "netvigil.streams.kafka.runtime"
