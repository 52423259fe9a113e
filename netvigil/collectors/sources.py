"""The SNMP and gNMI collectors the settings ask for, as sources of the service."""

from __future__ import annotations

from netvigil.collectors.gnmi import GnmiCollector, GnmiTarget
from netvigil.collectors.snmp import Credentials, SnmpPoller, SnmpTarget, TrapReceiver, V3User
from netvigil.config import Settings
from netvigil.streams.base import Source

__all__ = ["device_sources"]


def device_sources(settings: Settings) -> list[Source]:
    """Pollers, receivers and streams configured in ``snmp`` and ``gnmi`` (none by default)."""
    out: list[Source] = []
    sn = settings.snmp
    if sn.targets:
        targets = [
            SnmpTarget(
                t.host,
                t.port,
                Credentials(
                    t.version,
                    community=t.community.get_secret_value(),
                    user=t.user,
                    auth_key=t.auth_key.get_secret_value(),
                    priv_key=t.priv_key.get_secret_value(),
                    auth_protocol=t.auth_protocol,
                    priv_protocol=t.priv_protocol,
                ),
                device=t.device,
                lldp=t.lldp,
            )
            for t in sn.targets
        ]
        out.append(
            SnmpPoller(
                targets,
                interval_s=sn.interval_s,
                jitter_s=None if sn.jitter_s < 0 else sn.jitter_s,
                timeout_s=sn.timeout_s,
                request_timeout_s=sn.request_timeout_s,
                retries=sn.retries,
                down_after=sn.down_after,
                max_concurrency=sn.max_concurrency,
                max_repetitions=sn.max_repetitions,
            )
        )
    if sn.traps:
        users = [
            V3User(
                u.user,
                u.auth_key.get_secret_value(),
                u.priv_key.get_secret_value(),
                u.auth_protocol,
                u.priv_protocol,
            )
            for u in sn.trap_v3_users
        ]
        out.append(
            TrapReceiver(
                sn.trap_host,
                sn.trap_port,
                communities=[c.get_secret_value() for c in sn.trap_communities],
                v3_users=users,
                rcvbuf=sn.trap_rcvbuf_bytes,
                queue_size=sn.trap_queue_size,
                # a polled agent's traps name the same device its polls do
                devices={t.host: t.device for t in sn.targets if t.device},
            )
        )
    gn = settings.gnmi
    if gn.targets:
        out.append(
            GnmiCollector(
                [
                    GnmiTarget(
                        t.host,
                        t.port,
                        device=t.device,
                        insecure=t.insecure,
                        ca_file=t.ca_file,
                        cert_file=t.cert_file,
                        key_file=t.key_file,
                        server_name=t.server_name,
                        username=t.username,
                        password=t.password.get_secret_value(),
                        sample_interval_s=gn.sample_interval_s,
                    )
                    for t in gn.targets
                ],
                backoff_s=gn.backoff_s,
                max_backoff_s=gn.max_backoff_s,
            )
        )
    return out
