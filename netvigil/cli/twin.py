"""``netvigil twin``: run the digital twin on its own, serving its protocol endpoints."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import click

from netvigil.cli._common import config_option, err, friendly, main
from netvigil.config import load_settings
from netvigil.errors import ConfigError
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.twin.gnmi import serve_gnmi
from netvigil.twin.ipfix import TwinIpfixExporter
from netvigil.twin.network import TwinNetwork
from netvigil.twin.snmp import TwinSnmpAgents, TwinTrapSender
from netvigil.twin.source import SIM_EPOCH, TwinSource
from netvigil.twin.syslog import TwinSyslog
from netvigil.twin.telemetry import TwinTelemetry

__all__ = ["twin"]


@main.group()
def twin() -> None:
    """The digital twin: a simulated network that speaks real protocols."""


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{value!r} is not HOST:PORT")
    return host, int(port)


@twin.command("serve")
@config_option
@click.option(
    "--topology",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Topology (YAML or GraphML); default: the built-in demo backbone.",
)
@click.option(
    "--speed", type=float, default=1.0, show_default=True, help="Simulated seconds per wall second."
)
@click.option("--faults/--no-faults", default=False, help="Inject the scheduled faults.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--ipfix",
    "ipfix_to",
    default=None,
    metavar="HOST:PORT",
    help="Export every device's ingress flows as IPFIX over UDP to this collector.",
)
@click.option(
    "--syslog",
    "syslog_to",
    default=None,
    metavar="HOST:PORT",
    help="Send every device's syslog (vendor formats) to this collector.",
)
@click.option(
    "--syslog-transport",
    type=click.Choice(["udp", "tcp"]),
    default="udp",
    show_default=True,
    help="TCP uses RFC 6587 octet counting.",
)
@click.option(
    "--snmp/--no-snmp",
    default=False,
    help="Serve an SNMP agent per device (v2c 'public'; v3 user netvigil).",
)
@click.option(
    "--traps",
    "traps_to",
    default=None,
    metavar="HOST:PORT",
    help="Send linkDown/linkUp SNMPv2c traps to this receiver.",
)
@friendly
def serve(
    config_path: str | None,
    topology: str | None,
    speed: float,
    faults: bool,
    host: str,
    ipfix_to: str | None,
    syslog_to: str | None,
    syslog_transport: str,
    snmp: bool,
    traps_to: str | None,
) -> None:
    """Run the twin and serve one gNMI endpoint per device on free ports.

    Prints one JSON line per device, {"device", "gnmi": "HOST:PORT", "address"}, then runs
    until Ctrl-C. gNMI Set on an interface's config/enabled or its IS-IS metric changes the
    twin. Devices send flows and syslog from their own loopback address ("address").
    """
    settings = load_settings(config_path)
    if topology:
        settings.twin.topology = Path(topology)
    settings.twin.inject_faults = faults
    topo = load_topology(settings.twin.topology)
    plan = Service.plan_twin(settings, topo, speed=speed)
    network = TwinNetwork(topo, plan.faults, seed=settings.twin.seed)
    step = settings.twin.step_s
    telemetry = TwinTelemetry(topo, step_s=step, start=SIM_EPOCH)
    source = TwinSource(
        network,
        step_s=step,
        speed=speed,
        start=SIM_EPOCH + step,
        observers=[telemetry.observe],
        publish=False,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for event in network.step(SIM_EPOCH):  # state before anyone asks
            telemetry.observe(event)
        servers, ports = await serve_gnmi(
            telemetry, network, sorted(d.name for d in topo.devices()), host
        )
        senders = []
        if ipfix_to:
            exporter = TwinIpfixExporter(network, telemetry, _hostport(ipfix_to), step_s=step)
            source.step_hooks.append(exporter.on_step)
            senders.append(asyncio.create_task(exporter.run(stop)))
        if syslog_to:
            logs = TwinSyslog(
                topo,
                telemetry,
                _hostport(syslog_to),
                transport="tcp" if syslog_transport == "tcp" else "udp",
            )
            source.observers.append(logs.observe)
            senders.append(asyncio.create_task(logs.run(stop)))
        snmp_ports: dict[str, int] = {}
        agents = None
        if snmp:
            agents = TwinSnmpAgents(telemetry, network)
            snmp_ports = await agents.start(sorted(ports), host)
        if traps_to:
            traps = TwinTrapSender(telemetry, _hostport(traps_to))
            source.observers.append(traps.observe)
            senders.append(asyncio.create_task(traps.run(stop)))
        for device, port in ports.items():
            record = {
                "device": device,
                "gnmi": f"{host}:{port}",
                "address": telemetry.loopback(device),
            }
            if device in snmp_ports:
                record["snmp"] = f"{host}:{snmp_ports[device]}"
            click.echo(json.dumps(record))
        click.get_text_stream("stdout").flush()

        async def discard(_: object) -> None:
            return None

        try:
            await source.run(discard, stop)
            await stop.wait()
            await asyncio.gather(*senders)
        finally:
            await asyncio.gather(*(s.stop(grace=1.0) for s in servers))
            if agents is not None:
                agents.close()
            err.print("twin stopped")

    asyncio.run(run())
