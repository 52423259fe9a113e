"""``netvigil twin``: run the digital twin on its own, serving its protocol endpoints."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import click

from netvigil.cli._common import config_option, err, friendly, main
from netvigil.config import load_settings
from netvigil.graph.importers import load_topology
from netvigil.service import Service
from netvigil.twin.gnmi import serve_gnmi
from netvigil.twin.network import TwinNetwork
from netvigil.twin.source import SIM_EPOCH, TwinSource
from netvigil.twin.telemetry import TwinTelemetry

__all__ = ["twin"]


@main.group()
def twin() -> None:
    """The digital twin: a simulated network that speaks real protocols."""


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
@friendly
def serve(
    config_path: str | None, topology: str | None, speed: float, faults: bool, host: str
) -> None:
    """Run the twin and serve one gNMI endpoint per device on free ports.

    Prints one JSON line per device, {"device": ..., "gnmi": "HOST:PORT"}, then runs until
    Ctrl-C. gNMI Set on an interface's config/enabled or its IS-IS metric changes the twin.
    """
    settings = load_settings(config_path)
    if topology:
        settings.twin.topology = Path(topology)
    settings.twin.inject_faults = faults
    topo = load_topology(settings.twin.topology)
    plan = Service.plan_twin(settings, topo, speed=speed)
    network = TwinNetwork(topo, plan.faults, seed=settings.twin.seed)
    telemetry = TwinTelemetry(topo, step_s=settings.twin.step_s, start=SIM_EPOCH)
    source = TwinSource(
        network,
        step_s=settings.twin.step_s,
        speed=speed,
        start=SIM_EPOCH,
        observers=[telemetry.observe],
        publish=False,
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # one step first, so that every endpoint has state before anyone asks
        for event in network.step(SIM_EPOCH):
            telemetry.observe(event)
        source.start = SIM_EPOCH + settings.twin.step_s
        servers, ports = await serve_gnmi(
            telemetry, network, sorted(d.name for d in topo.devices()), host
        )
        for device, port in ports.items():
            click.echo(json.dumps({"device": device, "gnmi": f"{host}:{port}"}), nl=True)
        click.get_text_stream("stdout").flush()

        async def discard(_: object) -> None:
            return None

        try:
            await source.run(discard, stop)
            await stop.wait()
        finally:
            await asyncio.gather(*(s.stop(grace=1.0) for s in servers))
            err.print("twin stopped")

    asyncio.run(run())
