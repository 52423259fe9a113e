"""Settings: one YAML file plus ``NETVIGIL_*`` environment variables, one section per stage.

Precedence, highest first: environment variables (``NETVIGIL_<SECTION>__<SETTING>``, e.g.
``NETVIGIL_TWIN__SPEED=60``), the YAML file (``--config`` or ``NETVIGIL_CONFIG``), defaults.
Every setting has a type, a default and one line of help (``netvigil config docs``).
Invalid configuration raises :class:`~netvigil.errors.ConfigError` naming the setting and fix:
a file that is not UTF-8, not YAML, nested beyond reason or with a key given twice; a value of
the wrong type, out of range, infinite or NaN; an environment variable that names no setting
(``NETVIGIL_APII__PORT``) or is not the JSON a list or section needs. Passwords inside URLs
are masked wherever a value is shown (:mod:`netvigil.redaction`).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from netvigil.analytics.detector import DetectorConfig
from netvigil.config_input import environment_problems, read_file, too_deep
from netvigil.errors import ConfigError
from netvigil.redaction import redact_urls

__all__ = ["Settings", "describe", "load_settings", "redacted"]

ENV_PREFIX = "NETVIGIL_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class BusSettings(_Section):
    url: str = Field(
        "memory://",
        description="Message bus: memory:// (embedded, in-process) or kafka://HOST:PORT[,HOST:PORT].",
    )
    queue_size: int = Field(
        2048, ge=1, description="Embedded bus: bounded inbox per processor (back-pressure beyond)."
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("memory://", "kafka://")):
            raise ValueError("must start with memory:// or kafka://")
        if "@" in v:
            raise ValueError("Kafka takes no user:password@ in the URL; remove it")
        return v


class KafkaSettings(_Section):
    topic_prefix: str = Field(
        "",
        description="Prefix of every Kafka topic and consumer group (to share a cluster).",
    )
    partitions: int = Field(
        6, ge=1, description="Partitions per topic made by `netvigil topics create` (audit: 1)."
    )
    replication: int = Field(
        1, ge=1, description="Replication factor of the topics NetVigil makes."
    )
    retention_hours: float = Field(
        168.0, gt=0, description="Retention of telemetry, anomaly, action and dead-letter topics."
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description=(
            "Workers: at_least_once (offsets committed once outputs and state are "
            "acknowledged; effects are idempotent downstream) or exactly_once (each round's "
            "outputs, state and input offsets in one Kafka transaction, read read_committed). "
            "Every worker of a deployment must use the same."
        ),
    )

    batch_max_events: int = Field(
        200, ge=1, description="Most events of one key carried by one Kafka record."
    )
    linger_ms: float = Field(
        20.0, ge=0, description="How long the producer waits to fill a batch (latency vs. cost)."
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4", description="Compression of produced record batches."
    )
    spool_dir: Path | None = Field(
        None, description="Where events wait while the broker is unreachable (default: DATA/spool)."
    )
    worker_dir: Path | None = Field(
        None,
        description=(
            "This worker's own files (its id, its assignment; default: DATA/kafka): set it "
            "apart when workers share a data directory (coordinator partitions, docs/scale.md)."
        ),
    )
    spool_max_mb: float = Field(
        256.0,
        gt=0,
        description="Spool bound; beyond it the oldest spooled events are shed, counted.",
    )
    session_timeout_s: float = Field(
        10.0, ge=6, description="A worker silent this long is presumed dead; its partitions move."
    )
    reorder_max_wait_s: float = Field(
        120.0,
        gt=0,
        description="Re-keyed streams (correlator): longest wait for upstream progress reports.",
    )
    worker_processors: list[str] = Field(
        ["detector", "correlator"], description="Processors `netvigil worker` runs by default."
    )
    run_role: Literal["all", "collector", "coordinator"] = Field(
        "all",
        description=(
            "What `netvigil run` runs on Kafka: all = every processor (one machine); "
            "collector = its listeners and pollers and only the processors they need (no "
            "analytics, no decisions); coordinator = every processor but "
            "kafka.worker_processors, which `netvigil worker`s run (docs/deployment.md)."
        ),
    )


class GraphSettings(_Section):
    url: str = Field("memory://", description="Topology store: memory:// or neo4j://HOST:PORT.")
    user: str = Field("neo4j", description="Neo4j user.")
    password: SecretStr = Field(SecretStr(""), description="Neo4j password (secret).")
    topology: Path | None = Field(
        None, description="Topology file (YAML inventory or GraphML) loaded at start."
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("memory://", "neo4j://", "bolt://", "neo4j+s://", "bolt+s://")):
            raise ValueError("must start with memory://, neo4j:// or bolt://")
        return v


class TicketSettings(_Section):
    url: str = Field(
        "local://", description="Ticket backend: local:// (SQLite) or servicenow://INSTANCE-HOST."
    )
    user: str = Field("", description="ServiceNow user (basic auth).")
    password: SecretStr = Field(SecretStr(""), description="ServiceNow password (secret).")
    token: SecretStr = Field(SecretStr(""), description="ServiceNow OAuth bearer token (secret).")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("local://", "servicenow://")):
            raise ValueError("must start with local:// or servicenow://")
        return v


class StorageSettings(_Section):
    data_dir: Path = Field(
        Path(".netvigil"),
        description="Where the embedded runtime keeps incidents, tickets, audit and dead letters.",
    )
    freeze_heap: bool = Field(
        False,
        description="Once the service is built, take its long-lived objects out of the "
        "garbage collector's full passes (netvigil/heap.py). Off by default: at 10,000 "
        "devices it saved 7 % of the process's CPU and left the correlator's unchanged "
        "(docs/scale.md, 'The collector').",
    )


FaultKind = Literal[
    "link_down",
    "congestion",
    "node_down",
    "linecard",
    "flap",
    "packet_loss",
    "error_ramp",
    "routing_crash",
    "mtu_mismatch",
    "cost_misconfig",
    "growth_ramp",
]


class TwinSettings(_Section):
    topology: Path | None = Field(
        None, description="Twin topology (YAML or GraphML); empty = the built-in demo backbone."
    )
    seed: int = Field(
        7, description="Random seed: the same seed gives the same traffic and faults."
    )
    step_s: float = Field(10.0, gt=0, description="Simulated seconds between telemetry samples.")
    # the defaults make `netvigil run --twin` a demo a person can follow: the first fault 30 s
    # after the start, each fault lasting 40 s (time to approve its remediation in the
    # console), one every 80 s; `netvigil demo` runs the same schedule as fast as it can
    speed: float = Field(
        15.0,
        ge=0,
        description="Simulated seconds per wall-clock second; 0 runs as fast as possible.",
    )
    warmup_s: float = Field(
        450.0, ge=0, description="Simulated seconds of normal traffic before the first fault."
    )
    fault_interval_s: float = Field(
        1200.0,
        gt=0,
        description="Simulated seconds between injected faults (0 faults if disabled).",
    )
    fault_duration_s: float = Field(
        600.0, gt=0, description="How long each injected fault lasts, in simulated seconds."
    )
    fault_kinds: list[FaultKind] = Field(
        ["link_down", "congestion", "node_down"], description="Fault kinds injected, in rotation."
    )
    inject_faults: bool = Field(True, description="Inject faults on a schedule.")
    services: Path | None = Field(
        None,
        description="Twin services YAML (a 'services' list: name, runs_on, clients, depends_on, "
        "slos), served over HTTP on loopback and probed each step; empty = none.",
    )

    @field_validator("fault_kinds")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one fault kind")
        return v


class DetectorSettings(DetectorConfig):
    """The detector's own fields come from :class:`~netvigil.analytics.detector.DetectorConfig`
    (one source: the service hands this section to the processor as it is); the forecaster's
    and the log classifier's are added here."""

    forecast_horizon_s: float = Field(
        2700.0,
        gt=0,
        description="Congestion forecasts look this far ahead (45 min gives >= 30 min lead).",
    )
    log_classifier: Literal["minilm", "keywords"] = Field(
        "minilm",
        description=(
            "How log templates get their fault category: 'minilm' embeds each new template "
            "with the local all-MiniLM-L6-v2 model (loaded offline, a few seconds at start); "
            "'keywords' matches keyword lists (instant, less general)."
        ),
    )


class CorrelatorSettings(_Section):
    window_s: float = Field(
        300.0, gt=0, description="Anomalies closer in event time than this may be one incident."
    )
    max_hops: int = Field(
        2, ge=0, description="Anomalies this many hops apart in the topology may be one incident."
    )
    min_evidence: float = Field(
        0.8, gt=0, description="Strongest weighted anomaly needed before an incident opens."
    )
    late_s: float = Field(
        3600.0,
        gt=0,
        description="Anomalies older than the newest one seen by more than this are ignored "
        "(counted as late_anomaly): a replay, a clock that went backwards.",
    )
    regions: int = Field(
        1,
        ge=1,
        description="Regions (fault domains) the topology is split into; each is one "
        "partition of the correlator, so workers share the load (1: one partition).",
    )
    halo_hops: int = Field(
        4,
        ge=0,
        description="Each region also sees devices this many hops beyond it, so a fault near "
        "a border is correlated whole; keep it >= 2 x max_hops.",
    )
    revision_s: float = Field(
        5.0,
        ge=0,
        description="An open incident's changes are ranked and emitted at most once per this "
        "many event-time seconds (opening, resolving and reopening go out at once); 0: on "
        "every change.",
    )
    generation_check_s: float = Field(
        1.0,
        ge=0,
        description="A Neo4j topology's generation is asked at most once per this many "
        "seconds, so a storm costs one query per second, not one per anomaly; a topology "
        "change reaches the correlator's caches this long after it (0: on every anomaly).",
    )
    confirm_polls: float = Field(
        3.0,
        ge=0,
        description="A device's unreachability that no down symptom of it or a neighbour "
        "corroborates opens an incident only once it has lasted this many poll intervals "
        "(snmp.interval_s; the twin's step_s when the twin is the network): a lone poll "
        "timeout is no device down (0: at once). Chosen by cross-validation "
        "(bench/confirm_cv.py).",
    )
    poll_interval_s: float | None = Field(
        None,
        gt=0,
        description="Seconds between the network's reachability verdicts, the unit of "
        "confirm_polls. Unset: the twin's step_s in a process that runs the twin, else "
        "snmp.interval_s. Set it on workers that correlate a network another process "
        "polls (Kafka workers fed by a twin or a poller with another interval).",
    )


class SummarySettings(_Section):
    backend: Literal["template", "openai", "transformers"] = Field(
        "template",
        description="Incident summaries: the deterministic template, an OpenAI-compatible "
        "chat API, or a local transformers model (falls back to the template on failure).",
    )
    url: str = Field("", description="OpenAI-compatible base URL, e.g. http://HOST:PORT/v1.")
    model: str = Field("", description="Model name (openai) or local model directory.")
    api_key: SecretStr = Field(SecretStr(""), description="API key for the openai backend.")
    timeout_s: float = Field(10.0, gt=0, description="Time limit of one generation.")


class CoordinatorSettings(_Section):
    phase: Literal["passive", "semi-autonomous", "autonomous"] = Field(
        "passive", description="Deployment phase: passive only recommends actions."
    )
    policy: Path | None = Field(
        None,
        description="Autonomy policy YAML (`netvigil policy check`); empty = one domain, `phase`.",
    )
    catalog: Path | None = Field(None, description="Action catalog YAML; empty = the built-in one.")
    executor: Literal["twin", "gnmi", "ansible", "lab", "lab-ansible", "none"] = Field(
        "twin",
        description=(
            "How actions reach devices: twin = the digital twin when it runs (else none); "
            "gnmi = gNMI Set on gnmi.targets; ansible = the catalog's playbooks with "
            "ansible-runner on coordinator.ansible_inventory; lab, lab-ansible = the lab's "
            "routers, directly or through a playbook; none = propose only."
        ),
    )
    ansible_inventory: Path | None = Field(
        None,
        description="YAML mapping each device to its Ansible host variables (executor ansible).",
    )
    timeout_s: float = Field(
        120.0, gt=0, description="Deadline of one executor call; later, the action times out."
    )
    tick_s: float = Field(
        10.0, gt=0, description="Event-time seconds between the sampler's clock ticks."
    )
    dry_run: bool = Field(False, description="Check and report actions, change nothing.")
    lock_ttl_s: float = Field(600.0, gt=0, description="Lifetime of a lock on a target entity.")
    locks: Literal["auto", "sqlite", "graph"] = Field(
        "auto",
        description=(
            "Where entity locks live: 'sqlite' = locks.db in the data directory (workers of "
            "one machine), 'graph' = the Neo4j of graph.url (workers on several machines), "
            "'auto' = graph when graph.url is Neo4j, else sqlite."
        ),
    )
    lock_wait_s: float = Field(
        300.0, ge=0, description="How long an action waits for a locked target before refusal."
    )
    max_active: int = Field(
        4, ge=1, description="Actions in flight at once; more wait in the queue."
    )
    poll_s: float = Field(
        30.0, gt=0, description="Event-time seconds between polls of the ticket system."
    )
    partitions: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Partitions of the coordinator's state (docs/scale.md): 1 = one ordered stream "
            "(key 'resolver'); N > 1 = incidents and risks by a stable hash of their id, "
            "the sampler's ticks to all, so N workers share the coordinator."
        ),
    )
    audit_key: SecretStr = Field(
        SecretStr(""), description="HMAC key signing the audit head anchor (secret)."
    )


class ApiSettings(_Section):
    enabled: bool = Field(False, description="Serve the operator console.")
    host: str = Field("127.0.0.1", description="Console listen address.")
    port: int = Field(8080, ge=0, le=65535, description="Console listen port.")
    token_file: Path | None = Field(
        None, description="Console bearer tokens (hashed); empty = <data_dir>/api-tokens.json."
    )
    login_failures: int = Field(
        10, ge=1, description="Failed logins per client address before it must wait."
    )
    login_window_s: float = Field(
        60.0, gt=0, description="Window over which failed logins are counted, in seconds."
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is "
        "believed; empty = none, the connecting address counts.",
    )
    max_body_bytes: int = Field(
        65536,
        ge=4096,  # a 500-character reason, escaped, still fits
        description="Largest request body accepted (else 413), checked after the token.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError(
                "an empty address listens on every interface; give one (127.0.0.1), or "
                "0.0.0.0 / :: to listen on all on purpose"
            )
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                ipaddress.ip_network(p, strict=False)
            except ValueError:
                raise ValueError(
                    f"{p!r} is not an address or CIDR network (e.g. 10.0.0.0/8)"
                ) from None
        return v


class SnmpTargetSettings(_Section):
    host: str = Field(description="Agent address.")
    port: int = Field(161, ge=1, le=65535, description="Agent UDP port.")
    device: str = Field("", description="Device name in the topology (default: sysName).")
    version: Literal["2c", "3"] = Field("2c", description="SNMP version.")
    community: SecretStr = Field(SecretStr("public"), description="v2c community (secret).")
    user: str = Field("", description="v3 USM user.")
    auth_key: SecretStr = Field(SecretStr(""), description="v3 authentication key (secret).")
    priv_key: SecretStr = Field(SecretStr(""), description="v3 privacy key (secret).")
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    priv_protocol: Literal["DES", "AES", "AES192", "AES256"] = "AES"
    lldp: bool = Field(True, description="Walk LLDP-MIB neighbours.")


class SnmpV3UserSettings(_Section):
    user: str = Field(description="USM user notifications may come from.")
    auth_key: SecretStr = Field(SecretStr(""), description="Authentication key (secret).")
    priv_key: SecretStr = Field(SecretStr(""), description="Privacy key (secret).")
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    priv_protocol: Literal["DES", "AES", "AES192", "AES256"] = "AES"


class SnmpSettings(_Section):
    targets: list[SnmpTargetSettings] = Field([], description="Agents to poll.")
    interval_s: float = Field(60.0, gt=0, description="Seconds between polls of a target.")
    jitter_s: float = Field(
        -1.0, description="Random delay added to each poll; negative = a tenth of interval_s."
    )
    timeout_s: float = Field(10.0, gt=0, description="Deadline of one whole poll of a target.")
    request_timeout_s: float = Field(2.0, gt=0, description="Timeout of one SNMP request.")
    retries: int = Field(1, ge=0, description="Retries of one SNMP request.")
    down_after: int = Field(
        2,
        ge=1,
        description="Polls in a row a target must fail before it is unreachable (chosen by "
        "cross-validation with correlator.confirm_polls, bench/confirm_cv.py).",
    )
    max_concurrency: int = Field(64, ge=1, description="Polls in flight at once.")
    max_repetitions: int = Field(10, ge=1, description="GETBULK max-repetitions.")
    traps: bool = Field(False, description="Run the trap/inform receiver.")
    trap_host: str = Field("0.0.0.0", description="Trap receiver listen address.")
    trap_port: int = Field(162, ge=0, le=65535, description="Trap receiver UDP port.")
    trap_communities: list[SecretStr] = Field(
        [SecretStr("public")], description="v1/v2c communities accepted (secret)."
    )
    trap_v3_users: list[SnmpV3UserSettings] = Field([], description="v3 users accepted.")
    trap_rcvbuf_bytes: int = Field(
        8 << 20,
        ge=4096,
        description="Trap socket receive buffer asked for (net.core.rmem_max caps).",
    )
    trap_queue_size: int = Field(
        10000,
        ge=1,
        description="Traps waiting for the pipeline at most; more are dropped, counted.",
    )


class GnmiTargetSettings(_Section):
    host: str = Field(description="Target address.")
    port: int = Field(ge=1, le=65535, description="Target gRPC port.")
    device: str = Field("", description="Device name in the topology (default: host).")
    insecure: bool = Field(False, description="Plaintext gRPC (no TLS).")
    ca_file: Path | None = Field(None, description="CA certificate to verify the target (TLS).")
    cert_file: Path | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="Client key (mutual TLS).")
    server_name: str = Field("", description="TLS server name to expect, if not the host.")
    username: str = Field("", description="gNMI metadata user name.")
    password: SecretStr = Field(SecretStr(""), description="gNMI metadata password (secret).")


class GnmiSettings(_Section):
    targets: list[GnmiTargetSettings] = Field([], description="Targets to stream from.")
    sample_interval_s: float = Field(10.0, gt=0, description="SAMPLE subscription interval.")
    backoff_s: float = Field(1.0, gt=0, description="First reconnect delay (doubles).")
    max_backoff_s: float = Field(60.0, gt=0, description="Longest reconnect delay.")


class SyslogSettings(_Section):
    host: str = Field("0.0.0.0", description="Syslog collector listen address.")
    udp_port: int = Field(0, ge=0, le=65535, description="Syslog over UDP (RFC 5426); 0 = off.")
    tcp_port: int = Field(
        0, ge=0, le=65535, description="Syslog over TCP (RFC 6587, framing detected); 0 = off."
    )
    tls_port: int = Field(0, ge=0, le=65535, description="Syslog over TLS (RFC 5425); 0 = off.")
    tls_cert: Path | None = Field(None, description="TLS certificate chain (PEM) for tls_port.")
    tls_key: Path | None = Field(None, description="TLS private key (PEM) for tls_port.")
    framing: Literal["auto", "lf", "octet-counting"] = Field(
        "auto", description="TCP framing: auto detects it per connection from the first byte."
    )
    max_message_length: int = Field(
        65536, ge=480, description="Largest message accepted over TCP (octets)."
    )
    queue_size: int = Field(
        10000, ge=1, description="Messages buffered between sockets and the parser."
    )
    udp_rcvbuf_bytes: int = Field(
        8 << 20,
        ge=4096,
        description="UDP socket receive buffer asked for (net.core.rmem_max caps).",
    )
    udp_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes receiving on udp_port (SO_REUSEPORT): more when one core is short.",
    )
    tcp_idle_s: float = Field(
        900.0, ge=0, description="Close a TCP/TLS connection silent for this long; 0 = never."
    )
    tcp_max_connections: int = Field(
        512, ge=1, description="Open TCP/TLS connections per listener at most; more are refused."
    )
    tcp_max_per_source: int = Field(
        32, ge=1, description="Open TCP/TLS connections from one address at most; more are refused."
    )


class FlowSettings(_Section):
    host: str = Field("0.0.0.0", description="Flow collector listen address.")
    port: int = Field(
        0, ge=0, le=65535, description="UDP port for NetFlow v5/v9, IPFIX and sFlow; 0 = off."
    )
    hold_s: float = Field(
        30.0, ge=0, description="Seconds a data set waits for its template before a dead letter."
    )
    hold_max: int = Field(10000, ge=0, description="Data sets held for templates at most.")
    queue_size: int = Field(
        10000, ge=1, description="Datagrams buffered between the socket and the decoder."
    )
    rcvbuf_bytes: int = Field(
        8 << 20,
        ge=4096,
        description="UDP socket receive buffer asked for (net.core.rmem_max caps).",
    )
    udp_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes receiving on port (SO_REUSEPORT), templates shared between them.",
    )
    max_templates: int = Field(
        65536, ge=1, description="NetFlow v9/IPFIX templates cached at most, all exporters."
    )
    max_templates_per_exporter: int = Field(
        1024, ge=1, description="Templates cached at most per exporter; more are refused."
    )
    template_ttl_s: float = Field(
        5400.0,
        ge=0,
        description="Forget a template unused (no data, no refresh) this long; 0 = never.",
    )


class ProbeSettings(_Section):
    name: str = Field(description="Probe name (unique).")
    kind: Literal["http", "tcp", "dns"] = Field(description="What to check.")
    target: str = Field(description="http: URL; tcp: HOST:PORT; dns: name to resolve.")
    service: str = Field("", description="Service the result belongs to (for SLOs).")
    device: str = Field("", description="Device the service runs on.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between checks.")
    timeout_s: float = Field(5.0, gt=0, description="Deadline of one check.")
    expect_status: int | None = Field(None, description="HTTP status expected (default 2xx/3xx).")
    expect_content: str | None = Field(None, description="Regex the HTTP body must match.")
    nameserver: str | None = Field(None, description="DNS server HOST:PORT (default: system).")


class ScrapeSettings(_Section):
    url: str = Field(description="Prometheus text-format endpoint.")
    service: str = Field(description="Service the metrics belong to.")
    device: str = Field("", description="Device the service runs on.")
    interval_s: float = Field(15.0, gt=0, description="Seconds between scrapes.")


class SloSettings(_Section):
    service: str = Field(description="Service the objective is for.")
    objective: float = Field(gt=0, lt=1, description="Share of good events, e.g. 0.999.")
    kind: Literal["success", "latency"] = Field("success", description="What counts as good.")
    latency_ms: float | None = Field(None, gt=0, description="Latency SLO: good if faster.")
    window_s: float = Field(30 * 86400, gt=0, description="SLO window in seconds.")


class OtlpSettings(_Section):
    host: str = Field("127.0.0.1", description="Address of the OTLP/HTTP metrics receiver.")
    port: int = Field(
        0, ge=0, le=65535, description="Port of POST /v1/metrics (0 = off; OTLP's own is 4318)."
    )
    max_body_bytes: int = Field(
        4 << 20, gt=0, description="Largest request body, after decompression (else 413)."
    )
    devices: dict[str, str] = Field(
        {}, description="service.name -> device it runs on (default: the resource's host.name)."
    )


class ServiceLevelSettings(_Section):
    probes: list[ProbeSettings] = Field([], description="Synthetic checks (HTTP, TCP, DNS).")
    scrape: list[ScrapeSettings] = Field([], description="Prometheus endpoints to scrape.")
    otlp: OtlpSettings = Field(
        OtlpSettings(), description="OTLP/HTTP metrics pushed by instrumented applications."
    )
    slos: list[SloSettings] = Field([], description="Service-level objectives to track.")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the service."
    )


class Settings(BaseSettings):
    """All settings of NetVigil, one section per stage."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    bus: BusSettings = BusSettings()
    kafka: KafkaSettings = KafkaSettings()
    graph: GraphSettings = GraphSettings()
    tickets: TicketSettings = TicketSettings()
    storage: StorageSettings = StorageSettings()
    twin: TwinSettings = TwinSettings()
    detector: DetectorSettings = DetectorSettings()
    correlator: CorrelatorSettings = CorrelatorSettings()
    summary: SummarySettings = SummarySettings()
    coordinator: CoordinatorSettings = CoordinatorSettings()
    api: ApiSettings = ApiSettings()
    log: LogSettings = LogSettings()
    services: ServiceLevelSettings = ServiceLevelSettings()
    snmp: SnmpSettings = SnmpSettings()
    gnmi: GnmiSettings = GnmiSettings()
    syslog: SyslogSettings = SyslogSettings()
    flows: FlowSettings = FlowSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the YAML file arrives as init kwargs; the environment overrides it
        return (env_settings, init_settings)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _env_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)][:2]
    return ENV_PREFIX + "__".join(p.upper() for p in parts)


_SECRET_WORDS = ("password", "token", "key", "community")


def _error_list(lines: list[str]) -> ConfigError:
    if len(lines) == 1:
        return ConfigError(f"invalid configuration: {lines[0]}")
    return ConfigError("invalid configuration:\n" + "\n".join(f"  {x}" for x in lines))


def _translate(exc: ValidationError, source: str, prefix: tuple[str, ...] = ()) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        where = _location(loc)
        if err["type"] == "extra_forbidden":
            section = loc[0] if len(loc) > 1 else None
            known = _known(str(section)) if section else sorted(Settings.model_fields)
            fix = f"remove it or use one of: {', '.join(known)}"
            lines.append(f"{where}: unknown setting; {fix}")
            continue
        got = err.get("input")
        secret = any(w in where for w in _SECRET_WORDS)
        shown = "<redacted>" if secret else redact_urls(repr(got))
        if len(shown) > 200:
            shown = shown[:200] + "..."
        lines.append(
            f"{where} = {shown}: {err['msg']}; fix it in {source} "
            f"or set {_env_name(loc)}; see `netvigil config docs`"
        )
    return _error_list(lines)


def _known(section: str) -> list[str]:
    field = Settings.model_fields.get(section)
    model = field.annotation if field else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return sorted(Settings.model_fields)


# ---------------------------------------------------------------- loading


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Load the YAML file (if any), apply environment variables, validate everything.

    ``overrides`` are nested dicts per section (from command-line flags); they win over both.
    """
    path = path or os.environ.get("NETVIGIL_CONFIG") or None
    data: dict[str, Any] = {}
    source = "the environment"
    if path:
        source = str(path)
        data = read_file(source)
    env = environment_problems(os.environ, Settings, ENV_PREFIX)
    if env:
        raise _error_list(env)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise _translate(exc, source) from None
    except SettingsError as exc:
        raise ConfigError(
            f"an environment variable cannot be read ({redact_urls(str(exc))}); "
            "see `netvigil config docs`"
        ) from None
    except RecursionError:
        raise ConfigError(too_deep(f"config file {path}" if path else "the environment")) from None
    for section, values in overrides.items():
        sub = getattr(settings, section)
        for key, value in values.items():
            try:
                setattr(sub, key, value)
            except ValidationError as exc:
                raise _translate(exc, "the command line", (section,)) from None
    return settings


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: _redact_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_values(v) for v in value]
    return value


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data: secrets shown as ``**********`` when set, and
    passwords inside URLs (any string setting, at any depth) as ``***``."""
    out: dict[str, Any] = _redact_values(settings.model_dump(mode="json"))
    for section_name, section in settings:
        for key, value in section:
            if isinstance(value, SecretStr):
                out[section_name][key] = "**********" if value.get_secret_value() else ""
    return out


def describe() -> list[dict[str, str]]:
    """Every setting with its env var, type, default and help, for ``netvigil config docs``."""
    rows = []
    for section_name, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, sub in model.model_fields.items():
            default = sub.default
            if isinstance(default, SecretStr):
                default = ""
            rows.append(
                {
                    "setting": f"{section_name}.{key}",
                    "env": f"{ENV_PREFIX}{section_name.upper()}__{key.upper()}",
                    "type": _type_name(sub.annotation),
                    "default": "" if default is None else str(default),
                    "help": sub.description or "",
                }
            )
    return rows


def _type_name(annotation: Any) -> str:
    name = getattr(annotation, "__name__", None)
    return name if name and "[" not in repr(annotation) else repr(annotation).replace("typing.", "")
