"""OpenConfig's reference fake gNMI target (``fake_server`` of github.com/openconfig/gnmi).

A third-party gNMI implementation: the gnmi project's own Subscribe server, built with
``go install`` from the Go module proxy (gnxi's ``gnmi_target`` and lemming are refused by the
proxy here; this module is served). It implements Subscribe only (STREAM, ONCE and POLL; Get,
Set and Capabilities answer Unimplemented) and streams what its configuration lists, whatever
paths are asked for: here a ``fixed`` generator of ``SubscribeResponse`` messages, written as
protobuf text. It needs TLS: a self-signed certificate for ``127.0.0.1`` is made with
``openssl`` at start; clients verify it with that certificate as their CA.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from provision.common import CACHE, Server, free_port, go_install, wait_for_port

__all__ = ["MODULE", "SYNC", "default_responses", "install", "start", "status", "stop", "update"]

MODULE = "github.com/openconfig/gnmi/testing/fake/gnmi/cmd/fake_server@v0.14.1"
TARGET = "fake1"


def update(ts_ns: int, leaf: str, value: str, interface: str = "eth0") -> str:
    """Protobuf text of one SubscribeResponse: ``leaf`` (e.g. ``counters/in-octets``) of an
    interface's state at ``ts_ns``; ``value`` is a TypedValue body (``uint_val: 5``)."""
    elems = " ".join(f'elem {{ name: "{e}" }}' for e in ["state", *leaf.split("/")])
    path = (
        'elem { name: "interfaces" } '
        f'elem {{ name: "interface" key {{ key: "name" value: "{interface}" }} }} {elems}'
    )
    return (
        f'responses {{ update {{ timestamp: {ts_ns} prefix {{ target: "{TARGET}" }} '
        f"update {{ path {{ {path} }} val {{ {value} }} }} }} }}\n"
    )


SYNC = "responses { sync_response: true }\n"


def default_responses(t0_ns: int) -> str:
    """Interface counters 10 s apart, with oper-status UP, then DOWN 10 s later."""
    s = 10**9
    return (
        update(t0_ns, "counters/in-octets", "uint_val: 1000000")
        + update(t0_ns, "oper-status", 'string_val: "UP"')
        + SYNC
        + update(t0_ns + 10 * s, "counters/in-octets", "uint_val: 2250000")
        + update(t0_ns + 20 * s, "oper-status", 'string_val: "DOWN"')
    )


def _binary_root() -> Path:
    return CACHE / "gnmi-fake" / MODULE.rpartition("@")[2]


def install() -> None:
    go_install(MODULE, _binary_root())
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl not found: run scripts/system-deps.sh")


def _certificate(run_dir: Path) -> tuple[Path, Path]:
    cert, key = run_dir / "cert.pem", run_dir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=gnmi-fake", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def start(
    run_dir: Path,
    port: int | None = None,
    responses: str | None = None,
    t0_ns: int = 1_700_000_000_000_000_000,
) -> dict[str, object]:
    """Start the target; ``responses`` is protobuf text of the fixed generator (default
    :func:`default_responses` from ``t0_ns``). Returns host, port, the certificate to trust
    and the target name."""
    install()
    port = port or free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    cert, key = _certificate(run_dir)
    body = responses or default_responses(t0_ns)
    config = run_dir / "fake.textproto"
    # client_type GRPC_GNMI: the gNMI flavour; disable_eof: hold the stream open afterwards
    config.write_text(
        f'target: "{TARGET}"\nclient_type: GRPC_GNMI\ndisable_eof: true\nfixed {{\n{body}\n}}\n'
    )
    server = Server("gnmi_fake", run_dir)
    binary = _binary_root() / "bin" / "fake_server"
    server.spawn(
        [str(binary), "-config", str(config), "-text", "-port", str(port),
         "-server_crt", str(cert), "-server_key", str(key), "-allow_no_client_auth",
         "-logtostderr"],
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError as exc:
        server.stop()
        tail = server.log.read_text()[-2000:]
        raise RuntimeError(f"fake_server did not listen:\n{tail}") from exc
    facts = {"host": "127.0.0.1", "port": port, "ca_file": str(cert), "target": TARGET}
    (run_dir / "facts.json").write_text(json.dumps(facts))
    return facts


def stop(run_dir: Path) -> None:
    Server("gnmi_fake", run_dir).stop()


def status(run_dir: Path) -> dict[str, object]:
    facts_file = run_dir / "facts.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() else {}
    return {"running": Server("gnmi_fake", run_dir).pid() is not None and bool(facts), **facts}
