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

import sys
from typing import IO

import click
import msgspec

from netvigil.cli._common import main
from netvigil.collectors.flow.decoder import FlowDecoder, rows
from netvigil.collectors.flow.pcap import datagrams
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
