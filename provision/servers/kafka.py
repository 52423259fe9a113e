"""Apache Kafka 3.9.1, KRaft mode, one node acting as broker and controller, on loopback.

Why 3.9.1 and not 4.x: Kafka 4.0 removed old protocol versions (KIP-896) that faust-streaming
still uses through aiokafka; see ../shared/PROVISIONING.md. The jars come from Maven Central
through :func:`provision.common.maven_fetch` (cached); ``slf4j-reload4j`` is added because the
core POM declares no logging backend. Kafka keeps its own classpath (``lib/*``) and its own
JVM, so nothing of it leaks into NetVigil's Python environment.

Ports are chosen free at start and remembered in ``<run_dir>/kafka.json`` together with the
cluster id, so :func:`start` after :func:`stop` brings the *same* broker back on the same
address with its data (what the broker-restart test needs). Internal topics are sized small
(few partitions, replication 1) so a cold start takes seconds on a small machine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from provision.common import Server, free_port, maven_fetch, wait_for_log, wait_for_port

__all__ = ["ARTIFACTS", "VERSION", "install", "start", "status", "stop"]

VERSION = "3.9.1"
ARTIFACTS = [f"org.apache.kafka:kafka_2.13:{VERSION}", "org.slf4j:slf4j-reload4j:1.7.36"]
READY = "Kafka Server started"
HEAP = os.environ.get("NETVIGIL_KAFKA_HEAP", "-Xms256m -Xmx512m")

_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
"""


def _properties(data: Path, port: int, cport: int) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "8",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "log.retention.check.interval.ms": "60000",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _cluster_id() -> str:
    """22 url-safe base64 characters of a random UUID, never starting with ``-`` (which the
    storage tool would read as an option; Kafka's own ``Uuid.randomUuid`` avoids it too)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        if not cid.startswith("-"):
            return cid


def install() -> Path:
    """Fetch Kafka's jars (once; cached) and return the folder holding them."""
    if shutil.which("java") is None:
        raise RuntimeError("Java 17+ is needed to run Kafka; install a JDK (e.g. openjdk-17)")
    return maven_fetch(f"kafka-{VERSION}", ARTIFACTS)


def _facts(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "kafka.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _java(lib: Path, run_dir: Path, main: str, *args: str) -> list[str]:
    return [
        "java",
        *HEAP.split(),
        "-XX:+UseSerialGC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{run_dir / 'log4j.properties'}",
        "-cp",
        f"{lib}/*",
        main,
        *args,
    ]


def start(run_dir: Path, port: int | None = None, timeout: float = 120.0) -> dict[str, Any]:
    """Start the broker (formatting its storage the first time); return its address.

    Idempotent: a running broker is left alone. After :func:`stop`, the same ports, cluster
    id and data are reused unless ``port`` asks for another.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    server = Server("kafka", run_dir)
    facts = _facts(run_dir)
    if server.pid() is not None and facts:
        return status(run_dir)
    lib = install()
    port = port or facts.get("port") or free_port()
    cport = facts.get("controller_port") or free_port()
    while cport == port:
        cport = free_port()
    cluster = facts.get("cluster_id") or _cluster_id()
    data = run_dir / "data"
    conf = run_dir / "server.properties"
    conf.write_text(_properties(data, port, cport))
    (run_dir / "log4j.properties").write_text(_LOG4J)
    facts = {"port": port, "controller_port": cport, "cluster_id": cluster}
    (run_dir / "kafka.json").write_text(json.dumps(facts))
    fmt = subprocess.run(
        [
            *_java(lib, run_dir, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster}"),
            *("-c", str(conf), "--ignore-formatted"),
        ],
        capture_output=True,
        text=True,
    )
    if fmt.returncode != 0:
        raise RuntimeError(f"formatting Kafka storage failed:\n{fmt.stdout}\n{fmt.stderr}")
    if server.log.exists():  # readiness is read from this start's log only
        server.log.replace(server.log.with_suffix(".log.1"))
    proc = server.spawn(_java(lib, run_dir, "kafka.Kafka", str(conf)))
    try:
        wait_for_log(server.log, READY, timeout=timeout, proc=proc)
        wait_for_port(port, timeout=timeout)
    except Exception:
        server.stop()
        raise
    return status(run_dir)


def stop(run_dir: Path) -> None:
    """Stop the broker cleanly (SIGTERM: controlled shutdown), SIGKILL after 30 s."""
    Server("kafka", run_dir).stop(timeout=30.0)


def status(run_dir: Path) -> dict[str, Any]:
    """Whether the broker runs, and its address."""
    facts = _facts(run_dir)
    pid = Server("kafka", run_dir).pid()
    port = facts.get("port")
    return {
        "running": pid is not None,
        "pid": pid,
        "port": port,
        "bootstrap": f"127.0.0.1:{port}" if port else None,
        "log": str(run_dir / "kafka.log"),
    }
