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
  for ``lldpd``'s LLDP-MIB; its notifications (coldStart) to the trap collector.
- ``lldpd``: LLDP on the link interfaces only, the hostname as system name, interface names
  as port ids, a 5 s transmit interval.
- ``softflowd``: one per link interface, IPFIX of the flows entering it to the collector,
  tagged with the interface's ifIndex.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.lab.plan import BGP_ASN, LabPlan, RouterPlan

__all__ = [
    "OSPF_DEAD_S",
    "OSPF_HELLO_S",
    "Credentials",
    "frr_conf",
    "lldpd_conf",
    "snmpd_conf",
    "softflowd_argv",
]

OSPF_HELLO_S = 1
OSPF_DEAD_S = 4
LLDP_TX_S = 5
#: softflowd exports a flow after this long even while it lasts (seconds)
FLOW_MAXLIFE_S = 20
LOG_FD_ENV = "NETVIGIL_LAB_LOG_FD"


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


def snmpd_conf(router: RouterPlan, plan: LabPlan, creds: Credentials, agentx: str) -> str:
    """``snmpd.conf`` of one router; ``agentx`` is its AgentX socket path."""
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
        f"trap2sink {plan.collectors.traps} {creds.community}",
    ]
    return "\n".join(lines) + "\n"


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
