"""Apache Kafka 3.9.1, KRaft mode, one node acting as broker and controller, on loopback.

Why 3.9.1 and not 4.x: Kafka 4.0 removed old protocol versions (KIP-896) that faust-streaming
still uses through aiokafka; see ../shared/PROVISIONING.md. The jars come from Maven Central
through :func:`provision.common.maven_fetch` (cached); ``slf4j-reload4j`` is added because the
core POM declares no logging backend. Kafka keeps its own classpath (``lib/*``) and its own
JVM, so nothing of it leaks into NetVigil's Python environment.

Ports are chosen free at start and remembered in ``<run_dir>/kafka.json`` together with the
cluster id, so :func:`start` after :func:`stop` brings the *same* broker back on the same
address with its data (what the broker-restart test needs). Internal topics are sized small
(few partitions) so a cold start takes seconds on a small machine.

``brokers=3`` starts a cluster instead: three nodes, each broker and controller (a KRaft
quorum of three, which keeps a majority when one node dies), each with its own ports, data
directory, log and pid file under ``<run_dir>/node-<id>``; replication factor 3 for every
topic including the internal ones, ``min.insync.replicas`` 2, so an acknowledged write
(``acks=all``) is on at least two nodes and one node may die without losing it or stopping
writes. :func:`kill_node` and :func:`start_node` are what a failure test needs. A cluster's
facts (``brokers``, each node's ports, the cluster id) are kept in ``<run_dir>/kafka.json`` like
a single broker's, so :func:`start` after :func:`stop` brings the same cluster back.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from provision.common import Server, free_port, maven_fetch, wait_for_log, wait_for_port

__all__ = ["ARTIFACTS", "VERSION", "install", "kill_node", "start", "start_node", "status", "stop"]

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


#: A cluster's Raft and broker-session timeouts, five times Kafka's defaults: at a load average
#: of 100-140 (other suites on the same two cores) the controllers lost their leader every few
#: seconds at the defaults (fetch 2 s, election 1 s) and a restarted node gave up registering
#: after 60 s ("unable to register with the controller quorum") and exited. The price: a dead
#: node is noticed after 10-45 s instead of 2-9 s.
_CLUSTER_TIMEOUTS = {
    "controller.quorum.fetch.timeout.ms": "10000",
    "controller.quorum.election.timeout.ms": "5000",
    "broker.session.timeout.ms": "45000",
    "broker.heartbeat.interval.ms": "3000",
    "initial.broker.registration.timeout.ms": "300000",
}


def _properties(data: Path, node: int, port: int, cport: int, voters: str, rf: int) -> str:
    """One node's configuration; ``rf`` is the cluster's size: the replication factor of
    every topic, with ``min.insync.replicas`` 2 when there are replicas to spare."""
    isr = str(min(2, rf))
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "default.replication.factor": str(rf),
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": str(rf),
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": isr,
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
    if rf > 1:  # a quorum on a shared two-core machine: see _CLUSTER_TIMEOUTS
        props.update(_CLUSTER_TIMEOUTS)
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


def _nodes(facts: dict[str, Any]) -> list[dict[str, int]]:
    """Each node's id and ports; a single broker's facts are one node (id 1)."""
    if "nodes" in facts:
        return list(facts["nodes"])
    return [{"id": 1, "port": facts["port"], "controller_port": facts["controller_port"]}]


def _node_dir(run_dir: Path, facts: dict[str, Any], node: int) -> Path:
    """A single broker lives in ``run_dir`` itself (as it always did), a cluster's nodes in
    ``run_dir/node-<id>``."""
    return run_dir / f"node-{node}" if "nodes" in facts else run_dir


def _new_facts(run_dir: Path, brokers: int, port: int | None) -> dict[str, Any]:
    taken: set[int] = set()

    def fresh(want: int | None = None) -> int:
        p = want or free_port()
        while p in taken:
            p = free_port()
        taken.add(p)
        return p

    if brokers == 1:
        return {"port": fresh(port), "controller_port": fresh(), "cluster_id": _cluster_id()}
    nodes = [
        {"id": n, "port": fresh(port if n == 1 else None), "controller_port": fresh()}
        for n in range(1, brokers + 1)
    ]
    return {"brokers": brokers, "nodes": nodes, "cluster_id": _cluster_id()}


def start(
    run_dir: Path, port: int | None = None, timeout: float = 120.0, brokers: int | None = None
) -> dict[str, Any]:
    """Start the broker, or the cluster of ``brokers`` nodes (formatting storage the first
    time); return the bootstrap address.

    Idempotent: running nodes are left alone. After :func:`stop`, the same ports, cluster id
    and data are reused (``brokers`` None: as many as before, else 1) unless ``port`` asks
    for another (a single broker) or ``brokers`` for another size (a new cluster id; the old
    data is not reused: a KRaft quorum cannot change its voters this way).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    facts = _facts(run_dir)
    size = brokers or facts.get("brokers", 1)
    if not facts or facts.get("brokers", 1) != size:
        facts = _new_facts(run_dir, size, port)
    elif port and size == 1 and port != facts["port"]:
        facts["port"] = port
    (run_dir / "kafka.json").write_text(json.dumps(facts))
    spawned = [_spawn_node(run_dir, facts, n["id"]) for n in _nodes(facts)]
    for (server, proc), n in zip(spawned, _nodes(facts), strict=True):
        if proc is None:
            continue  # it was running
        try:  # a node is "started" only once a quorum of controllers answers it
            wait_for_log(server.log, READY, timeout=timeout, proc=proc)
            wait_for_port(n["port"], timeout=timeout)
        except Exception:
            for other, _ in spawned:
                other.stop()
            raise
    return status(run_dir)


def _spawn_node(
    run_dir: Path, facts: dict[str, Any], node: int
) -> tuple[Server, subprocess.Popen[bytes] | None]:
    """Write node ``node``'s configuration, format its storage once and start it (None: it
    was running)."""
    nodes = _nodes(facts)
    me = next(n for n in nodes if n["id"] == node)
    home = _node_dir(run_dir, facts, node)
    home.mkdir(parents=True, exist_ok=True)
    server = Server("kafka", home)
    if server.pid() is not None:
        return server, None
    lib = install()
    voters = ",".join(f"{n['id']}@127.0.0.1:{n['controller_port']}" for n in nodes)
    conf = home / "server.properties"
    conf.write_text(
        _properties(home / "data", node, me["port"], me["controller_port"], voters, len(nodes))
    )
    (home / "log4j.properties").write_text(_LOG4J)
    fmt = subprocess.run(
        [
            *_java(lib, home, "kafka.tools.StorageTool", "format"),
            *(f"--cluster-id={facts['cluster_id']}", "-c", str(conf), "--ignore-formatted"),
        ],
        capture_output=True,
        text=True,
    )
    if fmt.returncode != 0:
        raise RuntimeError(f"formatting Kafka storage failed:\n{fmt.stdout}\n{fmt.stderr}")
    if server.log.exists():  # readiness is read from this start's log only
        server.log.replace(server.log.with_suffix(".log.1"))
    return server, server.spawn(_java(lib, home, "kafka.Kafka", str(conf)))


def start_node(run_dir: Path, node: int, timeout: float = 120.0) -> None:
    """Start one node of a cluster again (after :func:`kill_node`) and wait until it is up."""
    facts = _facts(run_dir)
    server, proc = _spawn_node(run_dir, facts, node)
    if proc is not None:
        wait_for_log(server.log, READY, timeout=timeout, proc=proc)
        port = next(n["port"] for n in _nodes(facts) if n["id"] == node)
        wait_for_port(port, timeout=timeout)


def kill_node(run_dir: Path, node: int) -> None:
    """SIGKILL one node (no controlled shutdown: what a crash or an OOM kill does)."""
    server = Server("kafka", _node_dir(run_dir, _facts(run_dir), node))
    pid = server.pid()
    if pid is None:
        raise RuntimeError(f"Kafka node {node} under {run_dir} is not running")
    os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    server.pidfile.unlink(missing_ok=True)


def stop(run_dir: Path) -> None:
    """Stop the broker or every node cleanly (SIGTERM: controlled shutdown), SIGKILL after
    30 s. A cluster's nodes are told at once: one after another, the last node waits for a
    quorum of controllers that has already gone and is killed at the timeout."""
    facts = _facts(run_dir)
    servers = [Server("kafka", run_dir)]
    if facts:
        servers = [Server("kafka", _node_dir(run_dir, facts, n["id"])) for n in _nodes(facts)]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.stop(timeout=30.0), servers))


def status(run_dir: Path) -> dict[str, Any]:
    """Whether the broker (every node) runs, and the bootstrap address."""
    facts = _facts(run_dir)
    if not facts:
        return {
            "running": False,
            "pid": None,
            "port": None,
            "bootstrap": None,
            "log": str(run_dir / "kafka.log"),
        }
    nodes = _nodes(facts)
    pids = [Server("kafka", _node_dir(run_dir, facts, n["id"])).pid() for n in nodes]
    bootstrap = ",".join(f"127.0.0.1:{n['port']}" for n in nodes)
    if "nodes" not in facts:
        return {
            "running": pids[0] is not None,
            "pid": pids[0],
            "port": facts["port"],
            "bootstrap": bootstrap,
            "log": str(run_dir / "kafka.log"),
        }
    return {
        "running": all(p is not None for p in pids),
        "brokers": len(nodes),
        "nodes": [
            {**n, "pid": pid, "log": str(_node_dir(run_dir, facts, n["id"]) / "kafka.log")}
            for n, pid in zip(nodes, pids, strict=True)
        ],
        "bootstrap": bootstrap,
    }
