"""Network-aware masks for log template mining: vendor knowledge as data.

Each mask is a named regular expression; :data:`MASKS` is applied in order before Drain
tokenises a message, so that the variable parts networks put in their logs (addresses,
interface names of every vendor's style, AS numbers, hex identifiers) become one token each
(``<IP>``, ``<IF>``, ...) instead of splitting templates. The order matters: more specific
patterns first (an IPv6 address before a MAC, an interface before a bare number). Numbers are
masked last, as Drain's authors recommend for every log source: with every number one token,
two messages differ only in words, so Drain's similarity threshold can be stricter (0.7,
see :class:`~netvigil.analytics.logmining.MinerConfig`) and tell events apart that share most
of their words ("Received disconnect ...: Bye Bye" vs "...: disconnected by user").
"""

from __future__ import annotations

__all__ = ["INTERFACE_PATTERNS", "MASKS", "TIMESTAMP"]

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
# full, compressed (::) and IPv4-suffixed IPv6 forms; needs at least two colons
_IPV6 = (
    rf"(?:(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,7}}:(?:{_H}(?::{_H}){{0,5}})?"
    rf"|::(?:{_H}(?::{_H}){{0,6}})?"
    rf"|(?:{_H}:){{1,6}}:{_IPV4}|::ffff:{_IPV4})"
)

#: interface naming per vendor style (the part before the numbers), matched case-insensitively
INTERFACE_PATTERNS: dict[str, str] = {
    # Cisco IOS / IOS-XE / IOS-XR / NX-OS, long and short forms
    "cisco": (
        r"(?:(?:Hundred|FortyGig|TwentyFiveGig|TenGig|Gigabit|Fast)(?:E|Ethernet)"
        r"|HundredGigE|TenGigE|Gi|Te|Fa|Hu|Fo|Tw|Twe|Eth|Ethernet|Serial|Se|Port-channel|Po"
        r"|Bundle-Ether|BE|Loopback|Lo|Tunnel|Tu|Vlan|Vl|MgmtEth|mgmt|nve|BDI)"
        r"\d+(?:/\d+){0,4}(?:\.\d+)?"
    ),
    # Juniper Junos: type-fpc/pic/port[:channel][.unit], aggregated, logical
    "juniper": (
        r"(?:ge|xe|et|fe|so|gr|ip|lt|mt|pe|pd|vt|sp)-\d+/\d+/\d+(?::\d+)?(?:\.\d+)?"
        r"|(?:ae|reth|lo|irb|fxp|em|vlan|st)\d*\.\d+|(?:ae|reth|fxp|em)\d+"
    ),
    # Arista EOS
    "arista": r"(?:Et|Ethernet|Ma|Management|Port-Channel|Vxlan|Vx)\d+(?:/\d+){0,2}(?:\.\d+)?",
    # Nokia SR OS / SR Linux: slot/mda/port, connectors, lags, SR Linux ethernet-1/1
    "nokia": r"(?:ethernet-\d+/\d+(?:/\d+)?|lag-\d+|esat-\d+/\d+/\d+|\d+/\d+/c\d+(?:/\d+)?"
    r"|\d+/\d+/\d+)",
    # Linux (FRRouting, SONiC, Cumulus, hosts): kernel and systemd names, VLAN sub-interfaces
    # (a bare ``lo`` stays a word: only tokens with a digit are scanned, see logmining.mask)
    "linux": (
        r"(?:(?:eth|eno|ens|swp|bond|br|vlan|tun|tap|wlan|wg|vxlan)\d+(?:s\d+)?"
        r"|enp\d+s\d+(?:f\d+)?|veth[0-9a-f]*\d[0-9a-f]*)(?:\.\d+)?"
    ),
}

_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_CLOCK = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
#: a date and time in the forms logs print inside messages (ctime, syslog's, ISO 8601)
TIMESTAMP = (
    rf"(?<![\w:])(?:(?:{_DAY},?\s+)?{_MON}\s+\d{{1,2}}(?:,?\s+\d{{4}})?\s+{_CLOCK}"
    rf"(?:\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}[T ]{_CLOCK}(?:Z|[+-]\d{{2}}:?\d{{2}})?)(?![\w:])"
)

#: (name, pattern) applied in order; names become the mask token (``<IF>`` ...)
MASKS: list[tuple[str, str]] = [
    ("TS", TIMESTAMP),
    ("URL", r"(?<![\w])[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+"),
    ("MAC", r"(?<![\w:.-])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![\w:-])"),
    ("MAC", r"(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])"),
    ("IP", rf"(?<![\w:.]){_IPV6}(?:/\d{{1,3}})?(?![\w:.])"),
    ("IP", rf"(?<![\w.]){_IPV4}(?:/\d{{1,2}}|:\d{{1,5}})?(?![\w.])"),
    ("IF", r"(?<![\w/-])(?:" + "|".join(INTERFACE_PATTERNS.values()) + r")(?![\w/-])"),
    ("ASN", r"(?<![\w])AS[ -]?\d+(?:\.\d+)?(?![\w])"),
    # a file path: starts at /, ./, ../ or ~/ and has a name after the slash (not "N/A")
    ("PATH", r"(?<![\w./~-])(?:~|\.{1,2})?/(?:[\w.+@%=,-]+/?)+|(?<![\w])[A-Za-z]:\\[^\s\"'<>]*"),
    ("HEX", r"(?<![\w])0[xX][0-9A-Fa-f]+(?![\w])"),
    (
        "HEX",
        r"(?<![\w-])(?=[0-9A-Fa-f-]*\d)(?=[0-9A-Fa-f-]*[A-Fa-f])[0-9A-Fa-f]{8,}(?:-[0-9A-Fa-f]{4,})*(?![\w-])",
    ),
    # last: any other (signed) number, also inside a token (``blk_-123``, ``11:``, ``uid=0``),
    # but not one glued to a word (``%LINK-3-UPDOWN``, ``ipv6``, ``md5``, ``md55``): that is
    # a name, all its digits (a number starts at its first digit, never inside one)
    ("NUM", r"(?<![A-Za-z\d])(?<![A-Za-z]-)(?:(?<![A-Za-z0-9-])-)?\d+"),
]
