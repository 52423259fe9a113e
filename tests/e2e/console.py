"""A real ``netvigil run --twin`` with the console on a free port, and tokens from the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from provision.common import free_port
from tests.conftest import clean_env

NETVIGIL = [sys.executable, "-m", "netvigil.cli"]
ENV = clean_env()


@dataclass
class LiveConsole:
    url: str
    tokens: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[str]

    def text(self, path: str, who: str = "viewer") -> str:
        req = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return str(r.read().decode())

    def get(self, path: str, who: str = "viewer") -> object:
        return json.loads(self.text(path, who))


def create_token(data_dir: Path, role: str, name: str) -> str:
    out = subprocess.run(
        [
            *NETVIGIL,
            "api",
            "token",
            "create",
            "--role",
            role,
            "--name",
            name,
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    )
    return str(json.loads(out.stdout)["token"])


@contextmanager
def live_console(
    data_dir: Path, speed: float | None = 300.0, env: dict[str, str] | None = None
) -> Iterator[LiveConsole]:
    """Start the service against the twin with the console (``speed`` None: the twin's
    default); Ctrl-C it at the end and check that it stopped cleanly."""
    tokens = {
        role: create_token(data_dir, role, name)
        for role, name in (("viewer", "vera"), ("operator", "otto"), ("admin", "ada"))
    }
    port = free_port()
    env = {**ENV, **(env or {}), "NETVIGIL_API__ENABLED": "true", "NETVIGIL_API__PORT": str(port)}
    proc = subprocess.Popen(
        [
            *NETVIGIL,
            "run",
            "--twin",
            *(["--speed", str(speed)] if speed is not None else []),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"console did not come up: {out}\n{err}")
        time.sleep(0.2)
    live = LiveConsole(url, tokens, data_dir, proc)
    try:
        yield live
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "audit chain verified" in out, out
        for tok in tokens.values():  # no secret in anything the service printed
            assert tok not in out and tok not in err
