"""Syslog over a byte stream (RFC 6587): octet counting and trailer (LF or NUL) framing.

Framers are incremental: ``feed`` takes whatever a TCP read returned and yields complete
frames; ``close`` says what the end of the stream left behind. A frame is the message bytes,
or a :class:`FramingError` (with the message parsed so far, for "unexpected EOF"). After an
octet-counting error the stream is out of step and nothing more can be framed: the framer
reports it once and ``broken`` becomes true (the collector then drops the connection).

``detect`` picks the framing of a connection from its first byte, as RFC 6587 section 3.4
suggests: a digit starts an octet count, ``<`` a trailer-framed message.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FramingError", "LineFramer", "OctetFramer", "detect"]


@dataclass
class FramingError:
    """A framing fault: what was expected, and the bytes of the incomplete frame, if any."""

    message: str
    raw: bytes = b""
    incomplete: bool = False
    """True when ``raw`` is a whole message that lacked its trailer at the end of the stream."""


Frame = bytes | FramingError


class OctetFramer:
    """``MSG-LEN SP SYSLOG-MSG`` frames (RFC 6587 section 3.4.1)."""

    def __init__(self, max_length: int = 65_536) -> None:
        self.max_length = max_length
        self._buf = bytearray()
        self._seen = False
        self.broken = False

    def feed(self, data: bytes) -> list[Frame]:
        if self.broken:
            return []
        self._buf += data
        self._seen = self._seen or bool(data)
        out: list[Frame] = []
        buf = self._buf
        while buf:
            i = 0
            while i < len(buf) and i < 10 and 0x30 <= buf[i] <= 0x39:
                i += 1
            if i == 0 or buf[0] == 0x30:
                ch = chr(buf[0]) if 32 < buf[0] < 127 else f"\\x{buf[0]:02x}"
                out.append(FramingError(f"found ILLEGAL({ch}), expecting a MSGLEN", bytes(buf)))
                self._fail()
                return out
            if i == len(buf):
                break  # the length is still arriving
            if buf[i] != 0x20:
                out.append(FramingError("expecting a WS after MSGLEN", bytes(buf)))
                self._fail()
                return out
            length = int(buf[:i])
            if length > self.max_length:
                out.append(FramingError(f"MSGLEN {length} exceeds the maximum {self.max_length}"))
                self._fail()
                return out
            if len(buf) < i + 1 + length:
                break
            out.append(bytes(buf[i + 1 : i + 1 + length]))
            del buf[: i + 1 + length]
        return out

    def _fail(self) -> None:
        self.broken = True
        self._buf.clear()

    def close(self) -> list[Frame]:
        if self.broken:
            return []
        rest = bytes(self._buf)
        self._buf.clear()
        if not self._seen:
            return [FramingError("found EOF, expecting a MSGLEN")]
        if not rest:
            return []
        if all(0x30 <= c <= 0x39 for c in rest):
            return [FramingError("found EOF, expecting a WS", rest)]
        return [FramingError("unexpected EOF", rest)]


class LineFramer:
    """Trailer framing: LF (or NUL) ends a message (RFC 6587 section 3.4.2).

    ``strict`` follows the RFC: the last message needs its trailer ("unexpected EOF"
    otherwise). Not strict is for datagram-like input (``netvigil decode syslog`` without
    ``--framing``): a line feed ends a message only when the next line starts a new one with
    ``<``, so a message with an embedded newline stays whole, and the end of input ends the
    last message.

    A message longer than ``max_length`` is one framing error with its first ``max_length``
    bytes; the framer then skips to the next trailer, so a sender's endless line costs one
    dead letter and no memory.
    """

    def __init__(self, trailer: bytes = b"\n", *, strict: bool = True, max_length: int = 65_536):
        self.trailer = trailer
        self.strict = strict
        self.max_length = max_length
        self._buf = bytearray()
        self._skipping = False
        self.broken = False

    def feed(self, data: bytes) -> list[Frame]:
        if self._skipping:  # the rest of a message too long to keep, up to its trailer
            i = data.find(self.trailer)
            if i < 0:
                return []
            self._skipping = False
            data = data[i + 1 :]
        self._buf += data
        out: list[Frame] = []
        start = 0
        buf = self._buf
        while True:
            i = buf.find(self.trailer, start)
            if i < 0:
                break
            if not self.strict:
                if i + 1 >= len(buf):
                    break  # is the next line a new message? wait and see
                if buf[i + 1] != 0x3C:
                    start = i + 1
                    continue
            frame = bytes(buf[:i])
            del buf[: i + 1]
            start = 0
            if frame.endswith(b"\r") and not self.strict:
                frame = frame[:-1]
            out.append(frame if len(frame) <= self.max_length else self._too_long(frame))
        if len(buf) > self.max_length:
            # one dead letter per message, however long: its first bytes, the rest skipped
            out.append(self._too_long(bytes(buf), " (the rest skipped)"))
            buf.clear()
            self._skipping = True
        return out

    def _too_long(self, frame: bytes, more: str = "") -> FramingError:
        n = self.max_length
        return FramingError(f"message longer than {n} bytes{more}", frame[:n])

    def close(self) -> list[Frame]:
        rest = bytes(self._buf)
        self._buf.clear()
        self._skipping = False
        if not self.strict:
            rest = rest[:-1] if rest.endswith(self.trailer) else rest
            return [rest.removesuffix(b"\r")] if rest else []
        if rest:
            return [FramingError("unexpected EOF", rest, incomplete=True)]
        return []


def detect(first: int) -> str:
    """``octet-counting`` or ``lf`` for a connection whose first byte is ``first``."""
    return "octet-counting" if 0x31 <= first <= 0x39 else "lf"
