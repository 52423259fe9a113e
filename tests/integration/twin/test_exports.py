"""The twin's flow export and syslog, received over real sockets and checked independently
(IPFIX with the third-party ``netflow`` package's decoder)."""

from __future__ import annotations

import re
import socket

import netflow
import pytest

from tests.integration.conftest import serve_twin

pytestmark = pytest.mark.integration


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(30)
    return s


def test_ipfix_export_decodes_with_an_independent_decoder() -> None:
    sock = udp()
    with serve_twin("--speed", "300", "--ipfix", f"127.0.0.1:{sock.getsockname()[1]}") as devices:
        templates: dict[str, dict] = {"netflow": {}, "ipfix": {}}
        flows, exporters = [], set()
        for _ in range(5000):
            if len(flows) >= 300 and len(exporters) == len(devices):
                break
            data, addr = sock.recvfrom(65535)
            exporters.add(addr[0])
            pkt = netflow.parse_packet(data, templates)
            assert pkt.header.version == 10
            flows += pkt.flows
    assert exporters <= {d["address"] for d in devices.values()}
    assert len(exporters) == 8  # every device exports, each from its own address
    options = [x.data for x in flows if "octetDeltaCount" not in x.data]
    data = [x.data for x in flows if "octetDeltaCount" in x.data]
    assert options and all(o.get("samplingPacketInterval") == 1 for o in options)
    f = data[-1]
    assert f["octetDeltaCount"] > 0 and f["packetDeltaCount"] > 0
    assert f["protocolIdentifier"] in (6, 17)
    assert f["flowEndMilliseconds"] - f["flowStartMilliseconds"] == 10_000
    assert f["ingressInterface"] >= 1
    assert sum(1 for x in data if x["destinationTransportPort"] == 443) > len(data) / 5


CISCO = re.compile(
    r"^<187>\d+: core\d: \*\w{3} [ \d]\d \d\d:\d\d:\d\d\.000: %LINK-3-UPDOWN: "
    r"Interface GigabitEthernet0/0/\d, changed state to (down|up)$"
)
ARISTA = re.compile(
    r"^<189>\w{3} [ \d]\d \d\d:\d\d:\d\d edge[12] Ebra: %LINEPROTO-5-UPDOWN: "
    r"Line protocol on Interface Ethernet\d, changed state to (down|up)$"
)


def test_syslog_over_udp_in_vendor_formats() -> None:
    sock = udp()
    with serve_twin("--speed", "900", "--faults", "--syslog", f"127.0.0.1:{sock.getsockname()[1]}"):
        messages = [sock.recvfrom(65535) for _ in range(4)]
    texts = [m.decode() for m, _ in messages]
    assert any(CISCO.match(t) for t in texts) or any(ARISTA.match(t) for t in texts), texts
    for text, (host, _) in zip(texts, [a for _, a in messages], strict=True):
        assert host.startswith("127.1.0."), host  # each device from its own address
        assert text.startswith("<")


def test_syslog_over_tcp_with_octet_counting() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(30)
    port = server.getsockname()[1]
    with serve_twin(
        "--speed", "900", "--faults", "--syslog", f"127.0.0.1:{port}", "--syslog-transport", "tcp"
    ):
        conn, _ = server.accept()
        conn.settimeout(30)
        buf = b""
        while buf.count(b"<") < 2:
            buf += conn.recv(65535)
        conn.close()
    # RFC 6587 octet counting: "LEN SP MSG", back to back
    length, _, rest = buf.partition(b" ")
    assert length.isdigit()
    msg = rest[: int(length)]
    assert msg.startswith(b"<") and b"changed state to down" in msg
