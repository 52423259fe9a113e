"""``netvigil collect``: run one collector against one device and print its events.

Scripts depend on these forms; each prints the normalized events (metrics, device events,
dead letters) as JSON lines on stdout, exactly as they would go on the bus.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from netvigil.cli._common import friendly, main
from netvigil.collectors.gnmi import GnmiCollector, GnmiTarget, Subscription
from netvigil.collectors.snmp import Credentials, SnmpPoller, SnmpTarget, TrapReceiver, V3User
from netvigil.errors import ConfigError
from netvigil.events import Event, encode

__all__ = ["collect"]


def _host_port(value: str, default_port: int | None = None) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        if default_port is None:
            raise ConfigError(f"--target {value!r}: write it as HOST:PORT")
        return value, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError as exc:
        raise ConfigError(f"--target {value!r}: the port must be a number (HOST:PORT)") from exc


async def _print(event: Event) -> None:
    sys.stdout.write(encode(event).decode() + "\n")
    sys.stdout.flush()


@main.group()
def collect() -> None:
    """Run one collector against one device and print its events as JSON lines."""


@collect.command("snmp")
@click.option("--target", required=True, help="Agent as HOST:PORT (port default 161).")
@click.option("--community", default=None, help="SNMPv2c community.")
@click.option("--v3-user", default=None, help="SNMPv3 USM user (authPriv).")
@click.option("--auth-key", default=None, help="SNMPv3 authentication key.")
@click.option("--priv-key", default=None, help="SNMPv3 privacy key.")
@click.option("--auth-protocol", default="SHA", show_default=True)
@click.option("--priv-protocol", default="AES", show_default=True)
@click.option("--device", default="", help="Device name (default: the agent's sysName).")
@click.option("--once", is_flag=True, required=True, help="Poll once and exit.")
@click.option(
    "--samples",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Polls to make; counters become rates from the second one on.",
)
@click.option("--gap", type=float, default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Poll deadline (s).")
@friendly
def collect_snmp(
    target: str,
    community: str | None,
    v3_user: str | None,
    auth_key: str | None,
    priv_key: str | None,
    auth_protocol: str,
    priv_protocol: str,
    device: str,
    once: bool,
    samples: int,
    gap: float,
    timeout: float,
) -> None:
    """Poll one SNMP agent (v2c or v3 authPriv) and print its events.

    One poll gives interface status, CPU (where a gauge), LLDP neighbours; counter rates
    (if.in_bps, if.out_bps, utilization, discards) need two polls: use --samples 2.
    """
    host, port = _host_port(target, 161)
    if (community is None) == (v3_user is None):
        raise ConfigError("give either --community C or --v3-user U --auth-key K --priv-key P")
    if v3_user is not None:
        if not auth_key or not priv_key:
            raise ConfigError("SNMPv3 authPriv needs --auth-key and --priv-key")
        creds = Credentials(
            "3",
            user=v3_user,
            auth_key=auth_key,
            priv_key=priv_key,
            auth_protocol=auth_protocol,
            priv_protocol=priv_protocol,
        )
    else:
        creds = Credentials("2c", community=community or "")
    snmp_target = SnmpTarget(host, port, creds, device=device)

    async def run() -> int:
        poller = SnmpPoller([snmp_target], timeout_s=timeout, request_timeout_s=timeout / 3)
        try:
            answered = False
            for i in range(samples):
                if i:
                    await asyncio.sleep(gap)
                events = await poller.poll_once(snmp_target)
                answered = answered or poller.counters.received > 0
                for e in events:
                    await _print(e)
            return 0 if answered else 1
        finally:
            poller.close()

    sys.exit(asyncio.run(run()))


@collect.command("traps")
@click.option("--listen", default="127.0.0.1:162", show_default=True, help="HOST:PORT to bind.")
@click.option("--community", "communities", multiple=True, default=["public"], show_default=True)
@click.option("--v3-user", default=None, help="SNMPv3 USM user accepted.")
@click.option("--auth-key", default="", help="SNMPv3 authentication key.")
@click.option("--priv-key", default="", help="SNMPv3 privacy key.")
@click.option("--count", type=int, default=1, show_default=True, help="Events to print, then exit.")
@friendly
def collect_traps(
    listen: str,
    communities: tuple[str, ...],
    v3_user: str | None,
    auth_key: str,
    priv_key: str,
    count: int,
) -> None:
    """Receive SNMP traps and informs (v1, v2c, v3) and print their events."""
    host, port = _host_port(listen)
    users = [V3User(v3_user, auth_key, priv_key)] if v3_user else []
    receiver = TrapReceiver(host, port, communities=communities, v3_users=users)

    async def run() -> None:
        stop = asyncio.Event()
        seen = 0

        async def emit(event: Event) -> None:
            nonlocal seen
            await _print(event)
            seen += 1
            if seen >= count:
                stop.set()

        bound = await receiver.start()
        click.echo(f"listening on {host}:{bound}", err=True)
        await receiver.run(emit, stop)

    asyncio.run(run())


@collect.command("gnmi")
@click.option("--target", required=True, help="Target as HOST:PORT.")
@click.option("--insecure", is_flag=True, help="Plaintext gRPC (no TLS).")
@click.option("--path", "paths", multiple=True, required=True, help="Path to subscribe to.")
@click.option("--count", type=click.IntRange(1), required=True, help="Notifications, then exit.")
@click.option("--mode", type=click.Choice(["sample", "on_change"]), default="sample")
@click.option("--interval", type=float, default=10.0, show_default=True, help="SAMPLE interval.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--cert-file", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--server-name", default="", help="TLS server name to expect.")
@click.option("--device", default="", help="Device name (default: the host).")
@click.option("--no-get", is_flag=True, help="Skip the inventory Get.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Give up after (s).")
@friendly
def collect_gnmi(
    target: str,
    insecure: bool,
    paths: tuple[str, ...],
    count: int,
    mode: str,
    interval: float,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    server_name: str,
    device: str,
    no_get: bool,
    timeout: float,
) -> None:
    """Subscribe (STREAM) to paths of one gNMI target and print COUNT notifications' events."""
    host, port = _host_port(target)
    gt = GnmiTarget(
        host,
        port,
        device=device,
        insecure=insecure,
        ca_file=Path(ca_file) if ca_file else None,
        cert_file=Path(cert_file) if cert_file else None,
        key_file=Path(key_file) if key_file else None,
        server_name=server_name,
        paths=tuple(
            Subscription(p, "on_change" if mode == "on_change" else "sample") for p in paths
        ),
        sample_interval_s=interval,
        get_inventory=not no_get,
    )

    async def run() -> int:
        collector = GnmiCollector([gt])
        try:
            await asyncio.wait_for(collector.run(_print, asyncio.Event(), count=count), timeout)
        except TimeoutError:
            click.echo(f"error: fewer than {count} notifications in {timeout:.0f} s", err=True)
            return 1
        return 0

    sys.exit(asyncio.run(run()))
