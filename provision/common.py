"""Shared machinery for the real servers tests run against: caches, Maven, ports, processes.

Stdlib only, so it runs before the project's virtualenv exists. Downloads are cached under
``$NETVIGIL_CACHE`` (default ``~/.cache/netvigil``) and reused between runs; server state
(data, logs, pid files) lives under a run directory chosen by the caller.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = [
    "CACHE",
    "Server",
    "free_port",
    "go_install",
    "maven_fetch",
    "wait_for_log",
    "wait_for_port",
]

CACHE = Path(os.environ.get("NETVIGIL_CACHE", Path.home() / ".cache" / "netvigil"))

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>netvigil.provision</groupId>
  <artifactId>{name}</artifactId>
  <version>1</version>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def maven_fetch(name: str, artifacts: list[str]) -> Path:
    """Resolve ``group:artifact:version`` coordinates (and their runtime dependencies) from
    Maven Central into ``CACHE/<name>/lib`` once; return that folder."""
    lib = CACHE / name / "lib"
    stamp = CACHE / name / ".complete"
    want = "\n".join(artifacts)
    if stamp.exists() and stamp.read_text() == want and any(lib.glob("*.jar")):
        return lib
    if lib.exists():
        shutil.rmtree(lib)
    work = CACHE / name / "pom"
    work.mkdir(parents=True, exist_ok=True)
    deps = []
    for coord in artifacts:
        group, artifact, version = coord.split(":")
        deps.append(
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version></dependency>"
        )
    (work / "pom.xml").write_text(_POM.format(name=name, deps="\n".join(deps)))
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to fetch server jars from Maven Central")
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(work / "pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ],
        check=True,
    )
    stamp.write_text(want)
    return lib


def _go() -> str:
    for cand in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if cand and Path(cand).exists():
            return cand
    raise RuntimeError("Go is needed to build this server (go install); install the Go toolchain")


def go_install(package_at_version: str, root: Path) -> Path:
    """Build ``package@version`` from the Go module proxy into ``root/bin`` once (modules
    cached in ``CACHE/go``); return the binary's path."""
    binary = root / "bin" / package_at_version.partition("@")[0].rsplit("/", 1)[-1]
    if binary.exists():
        return binary
    env = dict(os.environ)
    env.update(
        GOBIN=str(root / "bin"),
        GOPATH=str(CACHE / "go"),
        GOMODCACHE=str(CACHE / "go" / "pkg" / "mod"),
        GOFLAGS="-mod=mod",
        CGO_ENABLED="0",
    )
    subprocess.run([_go(), "install", package_at_version], check=True, env=env, timeout=1800)
    return binary


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def wait_for_log(
    path: Path, needle: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if proc is not None and proc.poll() is not None:
            tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before ready:\n{tail}")
        time.sleep(0.2)
    raise TimeoutError(f"{needle!r} not in {path} after {timeout:.0f} s")


class Server:
    """A server process with its run directory, log file and pid file."""

    def __init__(self, name: str, run_dir: Path) -> None:
        self.name = name
        self.run_dir = run_dir
        self.log = run_dir / f"{name}.log"
        self.pidfile = run_dir / f"{name}.pid"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                argv,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.pidfile.write_text(str(self.proc.pid))
        return self.proc

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                # our own child that exited stays a zombie (kill(pid, 0) still succeeds) until
                # reaped; reap it here, also when this Server object did not spawn it
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        self.pidfile.unlink(missing_ok=True)
