"""The syslog fast paths agree with the general code they shortcut (issue #3, speed floors).

Each fast path is checked against the slower code that defines the behaviour, on generated
inputs shaped to hit the corner cases (hostnames that look like a zone, ``%`` mnemonics,
brackets, colons, invalid UTF-8) and on every syslog vector of ../shared/data/vectors:

- RFC 3164: the one-match fast path of ``parse_3164`` against ``_general``;
- RFC 5424 structured data without escapes: ``_sd_plain`` (splitting) against ``_sd`` (regex);
- RFC 5424 stamps: ``rfc5424_epoch`` (cached whole seconds) against ``rfc3339_epoch``;
- BSD stamps: ``bsd_epoch`` (cached day starts) against a direct ``calendar.timegm`` reading;
- the collector's lane from bytes to events (``records.events_of``) against ``parse_syslog``
  then ``to_events``, on both RFCs and vendor messages;
- the lane's C scanner (``_lane.scan``) against the lane's regular expressions
  (``records.python_lane``), on those messages with bytes flipped, cut or inserted, and on
  random bytes (which also fuzzes it: no crash, no hang).
"""

from __future__ import annotations

import base64
import calendar
import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.bench_syslog import corpus
from netvigil.collectors.syslog import _lane
from netvigil.collectors.syslog.message import bsd_epoch, rfc3339_epoch, rfc5424_epoch
from netvigil.collectors.syslog.records import _BSD, _RFC5424, events_of, python_lane, to_events
from netvigil.collectors.syslog.rfc3164 import _V5424, _general, parse_3164, parse_syslog
from netvigil.collectors.syslog.rfc5424 import _SD, _sd, _sd_plain, parse_5424
from netvigil.errors import DecodeError
from netvigil.events import DeviceEvent, LogRecord, encode
from tests.conftest import SHARED_DATA

CHECK = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
NOW = 1.7e9

_pri = st.sampled_from(["<38>", "<189>", "<0>", "<191>", "<192>", "<07>", "<13>"])
_seq = st.sampled_from(["", "123: ", "7: router1: "])
_sync = st.sampled_from(["", "*", "."])
_stamp = st.sampled_from(
    [
        "Dec 10 06:55:46",
        "Mar  1 18:48:50.483",
        "Feb 29 00:00:00",
        "Jan 10 2024 12:00:00",
        "2024 Jan 10 12:00:00",
        "2024-03-01T10:11:00.123+02:00",
        "Xyz 1 00:00:00",
    ]
)
_zone = st.sampled_from(["", " UTC", " CEST", " +02:00", " ABC"])
_after = st.sampled_from(["", ":"])
_host = st.sampled_from(
    ["LabSZ", "UTC", "HOST", "r1.example", "%LINK-3-UPDOWN:", "a[1]", "x:", ":", "", "é", "spine4"]
)
_tag = st.sampled_from(["", "sshd[24200]: ", "sshd: ", "Bgp: ", "app[]: ", "ftpd[1]:", "a b: "])
_text = st.text(alphabet=st.sampled_from(list("ab %:[] \t\nZ%É")), max_size=12)


@st.composite
def bsd_messages(draw: st.DrawFn) -> bytes:
    parts = [draw(_pri), draw(_seq), draw(_sync), draw(_stamp), draw(_zone), draw(_after)]
    parts += [" ", draw(_host), draw(st.sampled_from([" ", "", "  "])), draw(_tag), draw(_text)]
    raw = "".join(parts).encode()
    return raw + (b"\xff" if draw(st.booleans()) and draw(st.booleans()) else b"")


def _vector_messages() -> list[bytes]:
    path = SHARED_DATA / "vectors" / "syslog" / "cases.json"
    if not path.exists():
        return []
    out = []
    for case in json.loads(path.read_text()):
        raw = case.get("input_b64")
        out.append(base64.b64decode(raw) if raw else str(case.get("input", "")).encode())
    return out


def _general_of(data: bytes) -> object:
    try:
        return _general(data.decode("utf-8"), True, NOW)
    except UnicodeDecodeError:
        return _general(data.decode("utf-8", "surrogateescape"), False, NOW)


@CHECK
@given(bsd_messages())
def test_3164_fast_path_agrees_with_the_general_path(data: bytes) -> None:
    assert parse_3164(data, NOW) == _general_of(data)


def test_3164_fast_path_agrees_on_every_vector() -> None:
    vectors = _vector_messages()
    for data in vectors:
        assert parse_3164(data, NOW) == _general_of(data), data
    # the fast path is taken for the common shape, and gives what the general path gives
    common = b"<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster"
    msg = parse_3164(common, NOW)
    assert msg is not None and (msg.hostname, msg.app_name, msg.procid) == (
        "LabSZ",
        "sshd",
        "24200",
    )
    assert msg.ts == calendar.timegm((2022, 12, 10, 6, 55, 46, 0, 0, 0))


_name = st.text(alphabet=st.sampled_from(list("ab@1.-_")), min_size=1, max_size=5)
_value = st.text(alphabet=st.sampled_from(list('xy =[é\t"]\\')), max_size=6).filter(
    lambda v: not any(c in v for c in '"]\\')
)


@st.composite
def plain_sd(draw: st.DrawFn) -> str:
    elements = []
    for sdid in draw(st.lists(_name, min_size=1, max_size=3)):
        params = draw(st.lists(st.tuples(_name, _value), max_size=3))
        elements.append("[" + sdid + "".join(f' {k}="{v}"' for k, v in params) + "]")
    return "".join(elements)


@CHECK
@given(plain_sd())
def test_plain_structured_data_split_agrees_with_the_regex(sd_text: str) -> None:
    import re

    assert re.fullmatch(_SD, sd_text, re.S)  # the fast regex accepts it first
    assert _sd_plain(sd_text) == _sd(sd_text)


@st.composite
def rfc5424_stamps(draw: st.DrawFn) -> str:
    y = draw(st.integers(0, 9999))
    mo, d = draw(st.integers(1, 12)), draw(st.integers(1, 31))
    h, mi, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    frac = draw(st.sampled_from(["", ".1", ".003", ".123456", ".999999", ".50"]))
    zone = draw(st.sampled_from(["Z", "+00:00", "+02:00", "-07:30", "+23:59"]))
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"


@CHECK
@given(rfc5424_stamps())
def test_rfc5424_epoch_agrees_with_rfc3339_epoch(token: str) -> None:
    assert rfc5424_epoch(token) == rfc3339_epoch(token)
    assert rfc5424_epoch(token) == rfc3339_epoch(token)  # again, from the cache


def _bsd_reference(
    month: str, day: int, clock: str, year: int | None, tz: str | None, now: float
) -> float | None:
    """The direct reading: each candidate year in full through ``calendar.timegm``."""
    months = {m: i for i, m in enumerate(calendar.month_abbr) if m}
    mo = months.get(month)
    zones = {None: 0.0, "UTC": 0.0, "CEST": 7200.0}
    if mo is None or tz not in zones:
        return None
    hms, _, frac = clock.partition(".")
    h, mi, s = (int(p) for p in hms.split(":"))
    years = [year] if year else [datetime.fromtimestamp(now, UTC).year + d for d in (0, -1)]
    for y in years:
        if not 1 <= day <= calendar.monthrange(y, mo)[1]:
            continue
        t = calendar.timegm((y, mo, day, h, mi, s, 0, 0, 0)) - zones[tz]
        t += float("0." + frac) if frac.isdigit() else 0.0
        if year or t <= now + 86400:
            return t
    return None


@CHECK
@given(
    st.sampled_from(["Jan", "Feb", "Nov", "Dec", "Foo"]),
    st.integers(1, 31),
    st.sampled_from(["00:00:00", "23:59:59", "18:48:50.483", "06:55:46.000001", "99:99:99"]),
    st.sampled_from([None, 2020, 2023, 2024]),
    st.sampled_from([None, "UTC", "CEST", "XYZ"]),
    st.floats(1.5e9, 1.8e9),
)
def test_bsd_epoch_agrees_with_a_direct_reading(
    month: str, day: int, clock: str, year: int | None, tz: str | None, now: float
) -> None:
    assert bsd_epoch(month, day, clock, year, tz, now) == _bsd_reference(
        month, day, clock, year, tz, now
    )


def _dispatch_reference(data: bytes) -> object:
    """``parse_syslog`` without its inline fast path: the RFC choice as the docstring says."""
    if not _V5424.match(data):
        bsd = parse_3164(data, NOW)
        if bsd is not None:
            return bsd
    try:
        return parse_5424(data)
    except DecodeError as exc:
        return str(exc)


def _parsed(data: bytes) -> object:
    try:
        return parse_syslog(data, now=NOW)
    except DecodeError as exc:
        return str(exc)


@CHECK
@given(
    st.one_of(
        bsd_messages(),
        st.sampled_from([b"<38>1 ", b"<38>12", b"<38> x", b"<38>123 Dec 10 06:55:46 h t: m"]).map(
            lambda b: b + b" LabSZ sshd - - - msg"
        ),
    )
)
def test_parse_syslog_inline_fast_path_keeps_the_rfc_choice(data: bytes) -> None:
    assert _parsed(data) == _dispatch_reference(data)


def test_parse_syslog_keeps_the_rfc_choice_on_every_vector() -> None:
    for data in _vector_messages():
        assert _parsed(data) == _dispatch_reference(data), data


# ------------------------------------------------ the collector's lane from bytes to events

_sd_any = st.one_of(
    st.just("-"),
    plain_sd(),
    st.sampled_from(['[a x="1"][a y="2"]', '[a x="q\\"uote"]', "[a\\b]", "[a]x", '[a x="1"]']),
    st.sampled_from(
        [f"[{'n' * 32}]", f"[{'n' * 33}]", f'[a {"k" * 32}="v"]', f'[a {"k" * 33}="v"]']
    ),
)


@st.composite
def rfc5424_messages(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from(["<38>1", "<189>1", "<0>2", "<191>999", "<192>1", "<07>1"]))
    stamp = draw(
        st.sampled_from(
            ["-", "2024-03-01T10:02:00.002Z", "2024-09-31T00:00:00Z", "2003-10-11T22:14:15+02:00"]
        )
    )
    host = draw(st.sampled_from(["-", "LabSZ", "mx1.example", "é", "h" * 255, "h" * 256]))
    app = draw(st.sampled_from(["-", "sshd", "rpd"]))
    procid = draw(st.sampled_from(["-", "1234"]))
    msgid = draw(st.sampled_from(["-", "ID47", "SNMP_TRAP_LINK_DOWN", "m" * 32, "m" * 33]))
    sep = draw(st.sampled_from([" ", "", "  "]))
    text = draw(st.one_of(_text, st.sampled_from(VENDOR_TEXTS)))
    return f"{head} {stamp} {host} {app} {procid} {msgid} {draw(_sd_any)}{sep}{text}".encode()


VENDOR_TEXTS = [
    "SNMP_TRAP_LINK_DOWN: ifIndex 52, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/2",
    "ifIndex 52, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/2",
    "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down",
    "%BGP-5-ADJCHANGE: peer 10.0.0.1 (VRF default AS 65001) old state Established event Stop "
    "new state Idle",
    "BGP peer 192.0.2.4 (External AS 65002) changed state from Established to Idle (event x)",
]


@st.composite
def lane_shaped(draw: st.DrawFn) -> bytes:
    """BSD messages one token away from the lane's shape: hostnames the header takes for a
    zone, colons, brackets, percent signs, no tag, doubled spaces, line ends."""
    pri = draw(st.sampled_from(["<38>", "<30>", "<191>", "<192>", "<038>"]))
    stamp = draw(st.sampled_from(["Mar 10 12:00:00", "Mar  1 02:03:04", "Feb 30 00:00:00"]))
    hosts = ["mx4", "UTC", "CEST", "ABCDE", "ABCDEF", "+02:00", "+0200", "-07:00x"]
    hosts += ["h:", ":h", "h[1]", "%h", "a:b", "Ab1"]
    host = draw(st.sampled_from([*hosts, ""]))
    tags = ["rpd[99]: ", "rpd: ", "rpd:", "rpd[]: ", "rpd[9 9]: ", "r%d: ", "r\x1cd: ", "", " "]
    tags += ["t" * 48 + ": ", "t" * 49 + ": ", f"rpd[{'9' * 128}]: ", f"rpd[{'9' * 129}]: "]
    tag = draw(st.sampled_from(tags))
    text = draw(st.one_of(_text, st.sampled_from(VENDOR_TEXTS)))
    end = draw(st.sampled_from(["", "\n", "\r\n"]))
    return f"{pri}{stamp} {host} {tag}{text}{end}".encode()


@st.composite
def vendor_shaped(draw: st.DrawFn) -> bytes:
    """Cisco IOS and NX-OS headers before a ``%`` mnemonic, and their near misses."""
    pri = draw(st.sampled_from(["<189>", "<187>", "<0>", "<192>"]))
    seq = draw(st.sampled_from(["", "17: ", "0: ", "12345678901: ", "17 : ", "17:"]))
    origins = ["", "router3: ", "r-1.x_y: ", "3r: ", "é: ", "rté: ", ": r: "]
    origin = draw(st.sampled_from([*origins, "r" * 255 + ": ", "r" * 256 + ": "]))
    sync = draw(st.sampled_from(["", "*", ".", "**"]))
    stamps = ["Mar  1 18:48:50.483", "Mar 1 18:48:50", "2024 Jan 10 12:00:00", "Feb 30 00:00:00"]
    stamps += [
        "Jan 10 2024 12:00:00",
        "2024 Jan 10 12:00:00.123456789",
        "Mar 1 18:48:50.1234567890",
    ]
    stamp = draw(st.sampled_from(stamps))
    zone = draw(st.sampled_from(["", " UTC", " CEST", " ABCDEF", " utc", " +02:00", " XYZ"]))
    colon = draw(st.sampled_from([": ", ":", " ", ":  "]))
    text = draw(st.sampled_from([*VENDOR_TEXTS[2:4], "%X", "x %LINK-3-UPDOWN: y", "%"]))
    return f"{pri}{seq}{origin}{sync}{stamp}{zone}{colon}{text}".encode()


def _events(data: bytes) -> object:
    """The lane's events as the bus would carry them (encoded: field order counts too)."""
    try:
        return [encode(e) for e in events_of(data, "192.0.2.1", NOW)]
    except DecodeError as exc:
        return str(exc)


def _general_events(data: bytes) -> object:
    try:
        return [encode(e) for e in to_events(parse_syslog(data, now=NOW), "192.0.2.1", NOW)]
    except DecodeError as exc:
        return str(exc)


@settings(CHECK, max_examples=1500)
@given(
    st.one_of(
        bsd_messages(),
        lane_shaped(),
        vendor_shaped(),
        rfc5424_messages(),
        st.builds(
            lambda head, text: (head + text).encode(),
            st.sampled_from(["<30>Mar 10 12:00:00 mx4 rpd[99]: ", "<189>Jan 10 12:00:00 s Bgp: "]),
            st.sampled_from(VENDOR_TEXTS),
        ),
    )
)
def test_events_of_agrees_with_the_general_path(data: bytes) -> None:
    assert _events(data) == _general_events(data)


def test_events_of_agrees_on_every_vector_and_takes_the_lane_for_the_common_shapes() -> None:
    for data in _vector_messages():
        assert _events(data) == _general_events(data), data
    for data in corpus(500):  # the benchmark's corpus: Loghub lines as both RFCs, vendor lines
        assert _events(data) == _general_events(data), data
    bsd = "<30>Mar 10 12:00:00 mx4 rpd[99]: " + VENDOR_TEXTS[0]
    rfc5424 = '<38>1 2024-03-01T10:02:00.002Z LabSZ sshd 2 - [origin@32473 ip="10.0.0.2"] hi'
    assert _BSD.match(bsd) and _RFC5424.match(rfc5424)  # so the lane is what was compared
    record, event = events_of(bsd.encode(), "192.0.2.1", NOW)
    assert isinstance(record, LogRecord) and isinstance(event, DeviceEvent)
    assert (record.device, record.app_name, record.procid) == ("mx4", "rpd", "99")
    assert (event.kind, event.entity) == ("link_down", "mx4:ge-0/0/2")
    (record,) = events_of(rfc5424.encode(), "192.0.2.1", NOW)
    assert isinstance(record, LogRecord)
    assert record.structured_data == {"origin@32473": {"ip": "10.0.0.2"}}
    assert record.ts == 1709287320.002


# --------------------------------------------- the C scanner against the Python lane it mirrors


def _near_misses() -> st.SearchStrategy[bytes]:
    """Messages of the lane's shapes, and those with a few bytes flipped, cut or inserted."""
    shaped = st.one_of(bsd_messages(), lane_shaped(), vendor_shaped(), rfc5424_messages())

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(shaped))
        for _ in range(draw(st.integers(0, 3))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            byte = draw(st.sampled_from(b' :[]"=\\-+%0Z9\t\n\x1c\xc3\xff\x80.'))
            if op == "flip":
                data[at] = byte
            elif op == "cut":
                del data[at:]
            else:
                data.insert(at, byte)
        return bytes(data)

    return st.one_of(shaped, mutated(), st.binary(max_size=80))


@settings(CHECK, max_examples=3000)
@given(_near_misses())
def test_c_scanner_agrees_with_the_python_lane(data: bytes) -> None:
    fast = _lane.scan(data)
    assert fast is None or fast == python_lane(data), data
    assert _events(data) == _general_events(data), data


def test_c_scanner_takes_the_common_shapes_and_agrees_on_every_vector() -> None:
    messages = corpus(2000) + _vector_messages()
    taken = 0
    for data in messages:
        fast = _lane.scan(data)
        assert fast is None or fast == python_lane(data), data
        taken += fast is not None
    lane = sum(python_lane(d) is not None for d in messages)
    assert lane > len(messages) // 2 and taken == lane  # all the lane takes, the C scanner does
    assert _lane.scan(b"<38>Dec 10 06:55:46 LabSZ sshd[24200]: hi") == (
        3164, 38, "Dec 10 06:55:46", "Dec", "10", "06:55:46", "LabSZ", "sshd", "24200", "hi"
    )  # fmt: skip
    assert _lane.scan(b'<165>1 2003-10-11T22:14:15.003+02:00 - app - ID47 [x@1 k=""] m') == (
        5424, 165, 1065903255.003, None, "app", None, "ID47", {"x@1": {"k": ""}}, "m"
    )  # fmt: skip
    for taken in (
        b"<189>17: *Mar  1 18:48:50.483 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
        b"<189>17: router3: .Mar  1 18:48:51.001: %LINEPROTO-5-UPDOWN: Line protocol on",
        b"<187>2024 Jan 10 12:00:00 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: Interface e1/1 is down",
        b"<189>Jan 10 12:00:00: %SYS-5-CONFIG_I: Configured from console",
    ):
        assert _lane.scan(taken) is not None and _lane.scan(taken) == python_lane(taken), taken
    for refused in (b"<38>1 0000-01-01T00:00:00Z h a p m - x", b"<38>1 2024-09-31T00:00:00Z h"):
        assert _lane.scan(refused) is None  # left to Python: year 0, September 31st
