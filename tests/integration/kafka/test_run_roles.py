"""``kafka.run_role``: what `netvigil run` runs on Kafka. The Helm chart's collector pods run
``collector`` (their listeners publish; they join no processor's group, so no collector pod
can take the coordinator's partition and decide with stores of its own), its coordinator pod
``coordinator`` (every processor but the workers')."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from confluent_kafka.admin import AdminClient

from netvigil.config import Settings
from netvigil.events import LogRecord
from netvigil.service import Service
from netvigil.streams.kafka.admin import create_topics
from provision.common import free_port
from tests.integration.kafka.conftest import events_in, read_topic


def groups_of(bootstrap: str, prefix: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept until the answer: its
    listed = admin.list_consumer_groups().result(30)  # handle's end fails the request
    assert not listed.errors, listed.errors
    return {g.group_id for g in listed.valid if g.group_id.startswith(prefix)}


def test_a_collector_publishes_what_logger_sends_and_joins_no_group(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    settings.kafka.run_role = "collector"
    port = free_port()
    settings.syslog.host = "127.0.0.1"
    settings.syslog.udp_port = port
    prefix = settings.kafka.topic_prefix
    create_topics(kafka, settings.kafka)  # with their leaders known before the reads below
    svc = Service.build(settings, data_dir=tmp_path)
    assert svc.processors == []

    async def go() -> tuple[list[LogRecord], set[str]]:
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        try:
            await svc.runtime.ready()  # type: ignore[attr-defined]  # every loop in its group
            for i in range(120):  # until the listener is up and its record is on the broker
                await asyncio.to_thread(
                    subprocess.run,
                    [
                        "logger",
                        "-n",
                        "127.0.0.1",
                        "-P",
                        str(port),
                        "-d",
                        "--rfc3164",
                        "-t",
                        "roles",
                        f"collector role message {i}",
                    ],
                    check=True,
                )
                await asyncio.sleep(0.5)
                if await asyncio.to_thread(has_logs):
                    break
            logs = events_in(read_topic(kafka, prefix + "netvigil.logs"))
            groups = await asyncio.to_thread(groups_of, kafka, prefix)  # while it runs
            return [e for e in logs if isinstance(e, LogRecord)], groups
        finally:
            stop.set()
            await task

    def has_logs() -> bool:
        return bool(read_topic(kafka, prefix + "netvigil.logs", 10))

    try:
        logs, groups = asyncio.run(go())
    finally:
        svc.close()
    assert logs and all("collector role message" in r.message for r in logs)
    assert groups == set()
