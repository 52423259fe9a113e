"""The push collectors (syslog, flows) the settings ask for, as sources of the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.collectors.flow.collector import FlowCollector
from netvigil.collectors.flow.templates_store import TemplateFile, load_templates
from netvigil.collectors.listen import TcpLimits
from netvigil.collectors.syslog.collector import SyslogCollector, SyslogListen
from netvigil.config import Settings
from netvigil.streams.base import Processor, Source

__all__ = ["push_collectors"]


def push_collectors(
    settings: Settings, data_dir: Path
) -> tuple[list[Source], list[Processor[Any]]]:
    """Collectors whose port is set (0 = off), and the processors they need (templates file)."""
    sources: list[Source] = []
    processors: list[Processor[Any]] = []
    s = settings.syslog
    if s.udp_port or s.tcp_port or s.tls_port:
        sources.append(
            SyslogCollector(
                SyslogListen(
                    host=s.host,
                    udp=s.udp_port or None,
                    tcp=s.tcp_port or None,
                    tls=s.tls_port or None,
                    tls_cert=str(s.tls_cert) if s.tls_cert else None,
                    tls_key=str(s.tls_key) if s.tls_key else None,
                    framing=s.framing,
                    max_message_length=s.max_message_length,
                    queue_size=s.queue_size,
                    rcvbuf=s.udp_rcvbuf_bytes,
                    udp_workers=s.udp_workers,
                    limits=TcpLimits(
                        idle_s=s.tcp_idle_s or None,
                        max_connections=s.tcp_max_connections,
                        max_per_source=s.tcp_max_per_source,
                    ),
                )
            )
        )
    f = settings.flows
    if f.port:
        path = data_dir / "flow-templates.jsonl"
        sources.append(
            FlowCollector(
                f.host,
                f.port,
                hold_s=f.hold_s,
                hold_max=f.hold_max,
                templates=load_templates(path),
                queue_size=f.queue_size,
                rcvbuf=f.rcvbuf_bytes,
                max_templates=f.max_templates,
                max_templates_per_exporter=f.max_templates_per_exporter,
                template_ttl_s=f.template_ttl_s or None,
                udp_workers=f.udp_workers,
            )
        )
        processors.append(TemplateFile(path))
    return sources, processors
