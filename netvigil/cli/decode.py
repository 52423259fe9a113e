"""``netvigil decode``: decode flow datagrams and syslog streams offline, as JSON lines.

Contracts scripts depend on (issue #3):

- ``netvigil decode flow FILE...``: each FILE is one raw UDP datagram (NetFlow v5/v9, IPFIX or
  sFlow v5) or a pcap/pcapng of them, decoded in the order given with one template cache; one
  JSON object per data record / sFlow sample on stdout, in wire order. A malformed datagram
  prints one JSON error line on stderr and the run goes on; exit status 0 unless the
  arguments are wrong.
- ``netvigil decode syslog [--framing lf|octet-counting]``: standard input, one JSON object per
  message: ``{"valid": true, "rfc", "facility", ...}`` or ``{"valid": false, "error", ...}``.
"""

from __future__ import annotations

import base64
import sys
import time
from typing import IO

import click
import msgspec

from netvigil.cli._common import main
from netvigil.collectors.flow.decoder import FlowDecoder, rows
from netvigil.collectors.flow.pcap import datagrams
from netvigil.collectors.syslog.framing import FramingError, LineFramer, OctetFramer
from netvigil.collectors.syslog.message import SyslogMessage, SyslogParseError
from netvigil.collectors.syslog.rfc3164 import parse_syslog
from netvigil.collectors.syslog.vendor import enrich
from netvigil.errors import DecodeError

__all__ = ["decode"]

_json = msgspec.json.Encoder()


def _line(obj: object, stream: IO[bytes]) -> None:
    stream.write(_json.encode(obj) + b"\n")


@main.group()
def decode() -> None:
    """Decode captured flow datagrams or syslog messages to JSON lines."""


@decode.command("flow")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--exporter",
    default="unknown",
    show_default=True,
    help="Exporter of raw datagram files (captures carry the sender's address).",
)
def decode_flow(files: tuple[str, ...], exporter: str) -> None:
    """Decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams (raw files or pcap/pcapng)."""
    decoder = FlowDecoder()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for path in files:
        try:
            for data, sender in datagrams(path, exporter):
                try:
                    result = decoder.decode(data, sender)
                except DecodeError as exc:
                    _line({"error": str(exc), "reason": exc.reason, "file": path}, err)
                    continue
                for row in rows(result):
                    _line(row, out)
                for p in result.problems:
                    _line({"error": p.message, "reason": p.reason, "file": path}, err)
        except DecodeError as exc:
            _line({"error": str(exc), "reason": exc.reason, "file": path}, err)
    out.flush()


def _syslog_row(msg: SyslogMessage) -> dict[str, object]:
    row: dict[str, object] = {
        "valid": True,
        "rfc": msg.rfc,
        "facility": msg.facility,
        "severity": msg.severity,
        "version": msg.version,
        "timestamp": msg.timestamp,
        "hostname": msg.hostname,
        "app_name": msg.app_name,
        "procid": msg.procid,
        "msgid": msg.msgid,
        "structured_data": msg.structured_data,
        "message": msg.message,
    }
    if msg.message_bytes is not None:
        row["message_b64"] = base64.b64encode(msg.message_bytes).decode()
    enrich(msg)
    if msg.fields:
        row["fields"] = msg.fields
    return row


def _syslog_frame(frame: bytes | FramingError, now: float, compliant: bool) -> dict[str, object]:
    if isinstance(frame, FramingError):
        row: dict[str, object] = {"valid": False, "error": {"message": frame.message}}
        if frame.incomplete:
            try:
                partial = _syslog_row(parse_syslog(frame.raw, now=now, compliant_msg=compliant))
                row["partial"] = {k: v for k, v in partial.items() if k != "valid"}
            except SyslogParseError:
                pass
        return row
    try:
        return _syslog_row(parse_syslog(frame, now=now, compliant_msg=compliant))
    except SyslogParseError as exc:
        error: dict[str, object] = {"message": exc.detail}
        if exc.column is not None:
            error["column"] = exc.column
        row = {"valid": False, "rfc": "5424", "error": error}
        if exc.partial is not None:
            partial = _syslog_row(exc.partial)
            row["partial"] = {k: v for k, v in partial.items() if k != "valid"}
        return row


@decode.command("syslog")
@click.option(
    "--framing",
    type=click.Choice(["lf", "octet-counting"]),
    default=None,
    help="RFC 6587 framing of the input; default: one message per line, a line that does "
    "not start with '<' continuing the previous message.",
)
@click.option(
    "--trailer",
    type=click.Choice(["lf", "nul"]),
    default="lf",
    show_default=True,
    help="Trailer of --framing lf (non-transparent framing).",
)
@click.option(
    "--max-message-length",
    type=click.IntRange(1),
    default=65_536,
    show_default=True,
    help="Largest octet-counted message accepted.",
)
@click.option(
    "--compliant-msg",
    is_flag=True,
    help="Reject an RFC 5424 MSG that starts with a BOM but is not valid UTF-8.",
)
def decode_syslog(
    framing: str | None, trailer: str, max_message_length: int, compliant_msg: bool
) -> None:
    """Parse syslog messages (RFC 5424, RFC 3164 and vendor variants) from standard input."""
    framer: OctetFramer | LineFramer
    if framing == "octet-counting":
        framer = OctetFramer(max_message_length)
    else:
        framer = LineFramer(
            b"\x00" if trailer == "nul" else b"\n",
            strict=framing == "lf",
            max_length=max(max_message_length, 1 << 20),
        )
    now = time.time()
    out = sys.stdout.buffer
    stdin = sys.stdin.buffer
    while chunk := stdin.read1(1 << 16) if hasattr(stdin, "read1") else stdin.read(1 << 16):
        for frame in framer.feed(chunk):
            _line(_syslog_frame(frame, now, compliant_msg), out)
    for frame in framer.close():
        _line(_syslog_frame(frame, now, compliant_msg), out)
    out.flush()
