"""The syslog collector against real senders: util-linux `logger` over UDP and TCP (octet
counting and LF framing), rsyslog forwarding with octet-counted framing, and TLS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.events import DeadLetter, DeviceEvent, LogRecord
from provision.common import Server, free_port
from tests.integration.collectors.conftest import need, run_peer, running

pytestmark = pytest.mark.integration


def _logs(sink: object, text: str) -> list[LogRecord]:
    return [e for e in sink.of(LogRecord) if text in e.message]  # type: ignore[attr-defined]


async def test_logger_udp_tcp_octet_and_lf() -> None:
    logger = need("logger")
    collector = SyslogCollector(SyslogListen(udp=0, tcp=0))
    async with running(collector) as sink:
        udp, tcp = collector.listen.bound["udp"], collector.listen.bound["tcp"]
        await run_peer(
            logger, "-n", "127.0.0.1", "-P", str(udp), "-d", "--rfc5424", "-t", "nvtest",
            "--msgid", "ID7", "--sd-id", "origin@32473", "--sd-param", 'zone="lab"', "udp 5424",
        )  # fmt: skip
        await run_peer(
            logger, "-n", "127.0.0.1", "-P", str(tcp), "-T", "--octet-count", "--rfc5424",
            "-t", "nvtest", "tcp octet counted",
        )  # fmt: skip
        await run_peer(
            logger, "-n", "127.0.0.1", "-P", str(tcp), "-T", "--rfc3164", "-t", "nvtest",
            "tcp lf framed",
        )  # fmt: skip
        await run_peer(
            logger, "-n", "127.0.0.1", "-P", str(udp), "-d", "--rfc3164", "-t", "Ebra",
            "%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet7, changed state to down",
        )  # fmt: skip
        await sink.wait(lambda: len(sink.of(LogRecord)) >= 4 and sink.of(DeviceEvent))
    udp5424 = _logs(sink, "udp 5424")[0]
    assert (udp5424.rfc, udp5424.app_name, udp5424.msgid) == ("5424", "nvtest", "ID7")
    assert udp5424.structured_data["origin@32473"] == {"zone": "lab"}
    assert udp5424.source == "syslog:127.0.0.1"
    assert _logs(sink, "tcp octet counted")[0].rfc == "5424"
    lf = _logs(sink, "tcp lf framed")[0]
    assert (lf.rfc, lf.app_name) == ("3164", "nvtest")
    event = sink.of(DeviceEvent)[0]
    assert event.kind == "link_down"
    assert event.entity == f"{event.device}:Ethernet7"
    assert not sink.of(DeadLetter)
    assert collector.counters.decoded == 4  # messages (the mnemonic adds an event, not a message)


async def test_rsyslog_forwards_octet_counted(tmp_path: Path) -> None:
    rsyslogd, logger = need("rsyslogd"), need("logger")
    collector = SyslogCollector(SyslogListen(tcp=0))
    async with running(collector) as sink:
        listen = free_port()
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(
            f'global(workDirectory="{tmp_path}")\n'
            'module(load="imudp")\n'
            f'input(type="imudp" address="127.0.0.1" port="{listen}" ruleset="fwd")\n'
            'ruleset(name="fwd") {\n'
            f'  action(type="omfwd" target="127.0.0.1" port="{collector.listen.bound["tcp"]}"'
            ' protocol="tcp" TCP_Framing="octet-counted"'
            ' template="RSYSLOG_SyslogProtocol23Format")\n}\n'
        )
        server = Server("rsyslogd", tmp_path)
        server.spawn([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd-own.pid")])
        try:
            for attempt in range(40):  # rsyslog has no readiness signal for UDP: resend
                await run_peer(
                    logger, "-n", "127.0.0.1", "-P", str(listen), "-d", "--rfc3164", "-t",
                    "relay", f"via rsyslog {attempt}",
                )  # fmt: skip
                try:
                    await sink.wait(lambda: bool(_logs(sink, "via rsyslog")), timeout=0.5)
                    break
                except TimeoutError:
                    continue
            await run_peer(logger, "-n", "127.0.0.1", "-P", str(listen), "-d", "second message")
            await sink.wait(lambda: bool(_logs(sink, "second message")))
        finally:
            server.stop()
    relayed = _logs(sink, "via rsyslog")[0]
    assert relayed.rfc == "5424"  # rsyslog re-encodes as RFC 5424 in octet-counted frames
    assert relayed.app_name == "relay"
    assert not sink.of(DeadLetter)


def _self_signed(tmp: Path) -> tuple[str, str]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            need("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


async def test_tls_octet_counted(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    collector = SyslogCollector(SyslogListen(tls=0, tls_cert=cert, tls_key=key))
    async with running(collector) as sink:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", collector.listen.bound["tls"], ssl=ctx
        )
        msgs = [b"<34>1 2024-05-01T10:00:00Z host1 app - - - over tls", b"<13>garbage"]
        writer.write(b"".join(b"%d %s" % (len(m), m) for m in msgs))
        await writer.drain()
        await sink.wait(lambda: bool(_logs(sink, "over tls")) and bool(sink.of(DeadLetter)))
        writer.close()
    log = _logs(sink, "over tls")[0]
    assert (log.device, log.ts) == ("host1", 1714557600.0)
    letter = sink.of(DeadLetter)[0]
    assert letter.raw == b"<13>garbage" and letter.reason.startswith("bad_syslog")
