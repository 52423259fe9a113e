"""Configuration of one lab router's daemons, rendered from the plan (pure text, no I/O).

- FRRouting (``zebra``, ``ospfd``, ``bgpd`` on the BGP routers): OSPF area 0 on every link
  (point-to-point, the link's cost, hello 1 s / dead 4 s so a failure shows in seconds),
  the loopback passive; iBGP between the BGP routers over their loopbacks. Logs go to an
  extended log target in RFC 5424 with the router's hostname, written to a file descriptor
  the daemon inherits: a UDP socket connected to NetVigil's syslog collector (FRRouting
  sends one message per datagram on a datagram socket). ``log commands`` records every
  configuration command, so a changed cost is in the router's log like on real routers.
- net-snmp ``snmpd``: v2c community and a v3 user (SHA/AES) on the router's management
  address; IF-MIB limited to the router's own interfaces, each with its scaled speed (veths
  report 10 Gbit/s, so the ``interface`` directive states the shaped rate); AgentX master
  for ``lldpd``'s LLDP-MIB; its notifications to the trap collector: coldStart, and linkDown
  / linkUp from the DISMAN-EVENT-MIB, which samples every ifOperStatus each second
  (``monitor -r 1``; down is anything but up(1)) with ifIndex, ifAdminStatus, ifOperStatus
  and ifName in the payload. The Event MIB reads the agent through an internal SNMPv3
  query, which needs a user the agent's access control lets read at the query's security
  level (authNoPriv): :data:`QUERY_USER`, named by ``iquerySecName`` and ``agentSecName``.
  (With no such user every sample fails, "failed to run mteTrigger query", and no trap is
  sent.) Numeric OIDs throughout: the agent runs with no MIB files loaded. The samples keep
  net-snmp's interface cache (3 s) warm, so a poll would read counters up to 3 s old (rates
  off by up to 30 % over a 10 s poll); the lab turns that cache off
  (:data:`IF_CACHE_TIMEOUT_OID` = 0, set by the host through a community that may write
  nothing else, :func:`cache_community`): counters are read from the kernel per request.
- ``lldpd``: LLDP on the link interfaces only, the hostname as system name, interface names
  as port ids, a 5 s transmit interval.
- ``softflowd``: one per link interface, IPFIX of the flows entering it to the collector,
  tagged with the interface's ifIndex.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.lab.plan import BGP_ASN, LabPlan, RouterPlan

__all__ = [
    "IF_CACHE_TIMEOUT_OID",
    "IF_IN_ERRORS",
    "LINE_COUNTER_PREFIX",
    "LINE_TABLE",
    "OSPF_DEAD_S",
    "OSPF_HELLO_S",
    "QUERY_USER",
    "Credentials",
    "cache_community",
    "frr_conf",
    "line_errors_script",
    "lldpd_conf",
    "snmpd_conf",
    "softflowd_argv",
]

OSPF_HELLO_S = 1
OSPF_DEAD_S = 4
LLDP_TX_S = 5
#: softflowd exports a flow after this long even while it lasts (seconds)
FLOW_MAXLIFE_S = 60
LOG_FD_ENV = "NETVIGIL_LAB_LOG_FD"
#: the agent's internal user for the Event MIB's queries (authNoPriv)
QUERY_USER = "nvlab-query"
#: seconds between the Event MIB's samples of ifOperStatus (link traps)
LINK_MONITOR_S = 1
LINK_UP = ".1.3.6.1.6.3.1.1.5.4"
LINK_DOWN = ".1.3.6.1.6.3.1.1.5.3"
IF_OPER_STATUS = ".1.3.6.1.2.1.2.2.1.8"
#: NET-SNMP-AGENT-MIB nsCacheTable, and its nsCacheTimeout of the ifTable's cache
NS_CACHE_TABLE = ".1.3.6.1.4.1.8072.1.5.3"
IF_CACHE_TIMEOUT_OID = "1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"
#: IF-MIB ifInErrors (the column :func:`line_errors_script` serves)
IF_IN_ERRORS = ".1.3.6.1.2.1.2.2.1.14"
#: the nftables table (netdev family) of a router's lossy link ends, and its counters' prefix
LINE_TABLE = "nvlab_line"
LINE_COUNTER_PREFIX = "lost_"
#: ifIndex, ifAdminStatus, ifOperStatus, ifName (the instance is the monitored row's)
_LINK_TRAP_OBJECTS = (
    ".1.3.6.1.2.1.2.2.1.1",
    ".1.3.6.1.2.1.2.2.1.7",
    IF_OPER_STATUS,
    ".1.3.6.1.2.1.31.1.1.1.1",
)


@dataclass(frozen=True)
class Credentials:
    """The SNMP credentials every lab agent accepts (lab-local; the state file keeps them)."""

    name: str = "netvigil-lab"
    community: str = "netvigil-lab"
    user: str = "netvigil"
    auth_key: str = "netvigil-lab-auth"
    priv_key: str = "netvigil-lab-priv"


def frr_conf(router: RouterPlan, plan: LabPlan) -> str:
    """``frr.conf`` of one router (read by each of its FRRouting daemons)."""
    lines = [
        "frr defaults traditional",
        f"hostname {router.name}",
        "log commands",
        "log extended netvigil",
        f" destination fd envvar {LOG_FD_ENV} format rfc5424",
        " priority informational",
        "exit",
        "!",
        "interface lo",
        " ip ospf area 0",
        " ip ospf passive",
        "exit",
    ]
    for i in router.interfaces:
        lines += [
            f"interface {i.name}",
            f" description {i.peer}:{i.peer_interface}",
            " ip ospf network point-to-point",
            f" ip ospf hello-interval {OSPF_HELLO_S}",
            f" ip ospf dead-interval {OSPF_DEAD_S}",
            f" ip ospf cost {i.cost}",
            " ip ospf area 0",
            "exit",
        ]
    lines += [
        "router ospf",
        f" ospf router-id {router.loopback}",
        " log-adjacency-changes detail",
        " timers throttle spf 50 200 2000",
        "exit",
    ]
    if router.bgp:
        peers = [r for r in plan.routers if r.bgp and r.name != router.name]
        lines += [f"router bgp {BGP_ASN}", f" bgp router-id {router.loopback}"]
        lines.append(" bgp log-neighbor-changes")
        for p in peers:
            lines += [
                f" neighbor {p.loopback} remote-as {BGP_ASN}",
                f" neighbor {p.loopback} description {p.name}",
                f" neighbor {p.loopback} update-source lo",
                f" neighbor {p.loopback} timers 3 9",
            ]
        lines += [
            " address-family ipv4 unicast",
            f"  network {router.loopback}/32",
            " exit-address-family",
            "exit",
        ]
    return "\n".join(lines) + "\n"


def snmpd_conf(
    router: RouterPlan, plan: LabPlan, creds: Credentials, agentx: str, line_errors: str = ""
) -> str:
    """``snmpd.conf`` of one router; ``agentx`` is its AgentX socket path, ``line_errors``
    the path of its :func:`line_errors_script` (none: the kernel's errors alone)."""
    names = [i.name for i in router.interfaces]
    lines = [
        f"agentAddress udp:{router.mgmt}:161",
        f"rocommunity {creds.community} default",
        f'createUser {creds.user} SHA "{creds.auth_key}" AES "{creds.priv_key}"',
        f"rouser {creds.user} priv",
        f"sysName {router.name}",
        "sysLocation NetVigil lab",
        "sysContact netvigil",
        "sysServices 6",
        "master agentx",
        f"agentXSocket {agentx}",
        "agentXPerms 0666 0777",
        "include_ifmib_iface_prefix " + " ".join([*names, "mgmt0"]),
        "interface_replace_old yes",
    ]
    # IANAifType 6 = ethernetCsmacd; the speed is the shaped one, in bits per second
    lines += [f"interface {i.name} 6 {int(i.capacity_bps)}" for i in router.interfaces]
    lines += [
        f'createUser {QUERY_USER} SHA "{creds.auth_key}"',
        f"rouser {QUERY_USER} auth",
        f"iquerySecName {QUERY_USER}",
        f"agentSecName {QUERY_USER}",
        f"trap2sink {plan.collectors.traps} {creds.community}",
        f"rwcommunity {cache_community(creds)} {plan.mgmt_gateway} {NS_CACHE_TABLE}",
    ]
    if line_errors:
        lines.append(f"pass {IF_IN_ERRORS} /bin/sh {line_errors}")
    payload = " ".join(f"-o {c}" for c in _LINK_TRAP_OBJECTS)
    for event, trap, test in (("nvLinkUp", LINK_UP, "== 1"), ("nvLinkDown", LINK_DOWN, "!= 1")):
        lines += [
            f"notificationEvent {event} {trap} {payload}",
            f'monitor -S -r {LINK_MONITOR_S} -e {event} "{event}" {IF_OPER_STATUS} {test}',
        ]
    return "\n".join(lines) + "\n"


def line_errors_script(router: RouterPlan, plan: LabPlan) -> str:
    """snmpd's ``pass`` program for ifInErrors (:data:`IF_IN_ERRORS`) of ``router``: per
    interface, the kernel's receive errors plus the frames the line towards it damaged.

    A veth pair has no line: whatever one end sends the other receives, and a frame lost on
    the way is counted by neither (the receiving end's counters are the sending end's). A
    real receiver counts a bad line's frames as input errors (their checksum fails). The
    lab's ``link_loss`` drops the damaged frames at the sending end's egress and counts them
    there (the named counter :data:`LINE_COUNTER_PREFIX` + its interface in table
    :data:`LINE_TABLE` of its namespace, made by the first loss on it and never reset); this
    program adds that count to the receiving interface's errors, so the receiver's agent
    reports what a real one would. Interfaces are served in ifIndex order (``-n``: the next
    one; ``-g``: this one); interfaces other than the links' report the kernel's own."""
    peers = {i.name: (plan.router(i.peer).netns, i.peer_interface) for i in router.interfaces}
    cases = "\n".join(
        f"    {name}) ns={ns}; pif={pif} ;;" for name, (ns, pif) in sorted(peers.items())
    )
    names = " ".join([*sorted(peers), "mgmt0"])
    return rf"""#!/bin/sh
# ifInErrors of {router.name}: the kernel's receive errors plus the frames the line damaged
base={IF_IN_ERRORS}
value() {{
  ns=""; pif=""
  case "$1" in
{cases}
  esac
  own=$(cat "/sys/class/net/$1/statistics/rx_errors" 2>/dev/null || echo 0)
  lost=0
  if [ -n "$ns" ]; then
    lost=$(ip netns exec "$ns" nft list counter netdev {LINE_TABLE} \
      "{LINE_COUNTER_PREFIX}$pif" 2>/dev/null | awk '/packets/ {{print $2; exit}}')
  fi
  echo $((own + ${{lost:-0}}))
}}
rows() {{
  for name in {names}; do
    echo "$(cat "/sys/class/net/$name/ifindex") $name"
  done | sort -n
}}
want=${{2#"$base".}}
[ "$want" = "$2" ] && want=0
rows | while read -r idx name; do
  if {{ [ "$1" = "-g" ] && [ "$idx" = "$want" ]; }} \
    || {{ [ "$1" = "-n" ] && [ "$idx" -gt "${{want%%.*}}" ]; }}; then
    printf '%s.%s\ncounter\n%s\n' "$base" "$idx" "$(value "$name")"
    exit 0
  fi
done
"""


def cache_community(creds: Credentials) -> str:
    """The community that may write the agent's cache timeouts (and nothing else)."""
    return f"{creds.community}-cache"


def lldpd_conf(router: RouterPlan) -> str:
    """Commands ``lldpd`` runs at start (``lldpd -O FILE``)."""
    return (
        "\n".join(
            [
                f"configure system hostname {router.name}",
                f'configure system description "NetVigil lab router {router.name}"',
                "configure lldp portidsubtype ifname",
                f"configure lldp tx-interval {LLDP_TX_S}",
                f"configure system ip management pattern {router.loopback}",
            ]
        )
        + "\n"
    )


def softflowd_argv(
    ifindex: int, ifname: str, collector: str, pidfile: str, ctlsock: str
) -> list[str]:
    """One flow exporter: IPFIX of the flows entering ``ifname``, tagged ``ifindex``."""
    return [
        "softflowd",
        "-d",
        "-i",
        f"{ifindex}:{ifname}",
        "-n",
        collector,
        "-v",
        "10",
        "-t",
        f"maxlife={FLOW_MAXLIFE_S}",
        "-t",
        "expint=5",
        "-p",
        pidfile,
        "-c",
        ctlsock,
        "inbound",
    ]
