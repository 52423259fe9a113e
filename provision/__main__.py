"""``python -m provision ACTION SERVER``: install, start, stop or check a real server.

Each server is one module in ``provision/servers/`` exposing ``install() -> None``,
``start(run_dir: Path, port: int | None) -> dict`` (connection facts, e.g. the port),
``stop(run_dir: Path) -> None`` and ``status(run_dir: Path) -> dict``. Tests use the same
functions through fixtures in ``tests/integration/conftest.py``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from provision import servers


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(servers.__path__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m provision",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["install", "start", "stop", "status"])
    parser.add_argument("server", help=f"one of: {', '.join(available()) or '(none yet)'}")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=Path(".servers"),
        help="where server data, logs and pid files live (default .servers)",
    )
    parser.add_argument("--port", type=int, default=None, help="port to listen on")
    parser.add_argument(
        "--brokers",
        type=int,
        default=None,
        help="kafka only: a cluster of this many nodes (3: replication factor 3, "
        "min.insync.replicas 2); default: as the run directory was last started, else 1",
    )
    args = parser.parse_args(argv)
    if args.server not in available():
        parser.error(f"unknown server {args.server!r}; available: {', '.join(available())}")
    if args.brokers is not None and (args.server != "kafka" or args.brokers < 1):
        parser.error("--brokers is for kafka only, and at least 1")
    mod = importlib.import_module(f"provision.servers.{args.server}")
    run_dir = args.run_dir.resolve() / args.server
    if args.action == "install":
        mod.install()
        result: dict[str, object] = {"installed": args.server}
    elif args.action == "start":
        extra = {} if args.brokers is None else {"brokers": args.brokers}
        result = mod.start(run_dir, args.port, **extra)
    elif args.action == "stop":
        mod.stop(run_dir)
        result = {"stopped": args.server}
    else:
        result = mod.status(run_dir)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
