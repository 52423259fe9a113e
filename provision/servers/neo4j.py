"""Neo4j 5.26 community with Bolt on loopback, from Maven Central jars (no tarball, no Docker).

Why a launcher and not the server distribution: the distribution is a tarball outside the
package registries, while the embedded database management service plus the Bolt connector is
on Maven Central (``org.neo4j:neo4j``). ``Neo4jLauncher.java`` (next to this file) is run as a
single-file Java program: it opens the database under the run directory, enables Bolt on
``127.0.0.1:<port>``, prints a ready line, and shuts the store down cleanly on SIGTERM.

The page cache is always set (Neo4j's default is half the RAM, which a shared test machine
cannot give) and the heap is small; the JVM flags are the ones Java 17 needs for Neo4j's
direct buffers.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from provision.common import CACHE, Server, free_port, maven_fetch, wait_for_log, wait_for_port

__all__ = ["VERSION", "install", "start", "status", "stop"]

VERSION = os.environ.get("NETVIGIL_NEO4J_VERSION", "5.26.30")
LAUNCHER = Path(__file__).with_name("Neo4jLauncher.java")
PAGECACHE_BYTES = 64 * 1024 * 1024
JVM_FLAGS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
]
READY = "NEO4J-READY"


def _lib() -> Path:
    return CACHE / f"neo4j-{VERSION}" / "lib"


def install() -> None:
    """Fetch the Neo4j jars (and their runtime dependencies) into the cache, once."""
    if shutil.which("java") is None:
        raise RuntimeError("Java 17+ is needed to run Neo4j; install a JDK (e.g. openjdk-17)")
    maven_fetch(f"neo4j-{VERSION}", [f"org.neo4j:neo4j:{VERSION}"])


def start(run_dir: Path, port: int | None = None, *, auth: bool = False) -> dict[str, object]:
    """Start Neo4j on ``127.0.0.1:port`` (a free port if None); return its connection facts."""
    install()
    port = port or free_port()
    server = Server("neo4j", run_dir)
    if server.pid() is not None:
        raise RuntimeError(f"neo4j already runs from {run_dir} (pid {server.pid()}); stop it first")
    data = run_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    server.log.unlink(missing_ok=True)
    proc = server.spawn(
        [
            "java",
            *JVM_FLAGS,
            "-cp",
            f"{_lib()}/*",
            str(LAUNCHER),
            str(data),
            str(port),
            str(PAGECACHE_BYTES),
            "true" if auth else "false",
        ]
    )
    try:
        wait_for_log(server.log, READY, timeout=180, proc=proc)
        wait_for_port(port, timeout=30)
    except Exception:
        server.stop()
        raise
    facts: dict[str, object] = {
        "url": f"neo4j://127.0.0.1:{port}",
        "bolt": f"bolt://127.0.0.1:{port}",
        "port": port,
        "pid": proc.pid,
        "log": str(server.log),
    }
    (run_dir / "neo4j.json").write_text(json.dumps(facts))
    return facts


def stop(run_dir: Path) -> None:
    """Stop the server started from ``run_dir`` (a clean shutdown: SIGTERM, then wait)."""
    Server("neo4j", run_dir).stop(timeout=60)
    (run_dir / "neo4j.json").unlink(missing_ok=True)


def status(run_dir: Path) -> dict[str, object]:
    pid = Server("neo4j", run_dir).pid()
    facts_file = run_dir / "neo4j.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() and pid else {}
    return {"running": pid is not None, **facts}
