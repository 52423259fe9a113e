"""The Helm chart: ``helm lint``, then ``helm template`` validated offline against the
Kubernetes schemas (kubernetes-validate, strict), for the defaults and the optional parts.

Helm itself is built by ``provision.helm`` (go install from the Go module proxy, cached).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from provision.helm import ensure_helm

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[3] / "charts" / "netvigil"
KUBE = "1.31.0"


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm()


def _template(helm: Path, sets: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    args = [str(helm), "template", "nv", str(CHART), "--kube-version", KUBE]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, capture_output=True, text=True)


def render(helm: Path, *sets: str) -> list[dict[str, Any]]:
    r = _template(helm, sets)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def refused(helm: Path, *sets: str) -> str:
    """What ``helm template`` says when it refuses to render with ``sets``."""
    r = _template(helm, sets)
    assert r.returncode != 0, "rendered, not refused"
    return r.stderr


def validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE, strict=True)


def by_kind(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    return doc


def test_helm_lint(helm: Path) -> None:
    r = subprocess.run(
        [str(helm), "lint", str(CHART), "--strict", "--kube-version", KUBE],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_default_render_is_valid_and_has_every_part(helm: Path) -> None:
    docs = render(helm)
    validate(docs)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert ("Deployment", "nv-netvigil-collectors") in kinds
    assert ("Deployment", "nv-netvigil-workers") in kinds
    assert ("Deployment", "nv-netvigil-coordinator") in kinds
    assert ("Service", "nv-netvigil-api") in kinds

    coord = by_kind(docs, "Deployment", "coordinator")
    assert coord["spec"]["replicas"] == 1 and coord["spec"]["strategy"]["type"] == "Recreate"
    [c] = coord["spec"]["template"]["spec"]["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"]["cpu"]
    env = {e["name"]: e for e in c["env"]}
    assert "NETVIGIL_API__TRUSTED_PROXIES" not in env  # none trusted unless configured
    assert env["NETVIGIL_BUS__URL"]["value"].startswith("kafka://")
    assert env["NETVIGIL_KAFKA__PROCESSING_GUARANTEE"]["value"] == "at_least_once"
    assert env["NETVIGIL_GRAPH__URL"]["value"].startswith("neo4j://")
    assert env["NETVIGIL_GRAPH__PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "neo4j-auth"
    assert "value" not in env["NETVIGIL_GRAPH__PASSWORD"]

    svc = by_kind(docs, "Service", "collectors")
    protocols = {p["protocol"] for p in svc["spec"]["ports"]}
    assert protocols == {"UDP", "TCP"}
    assert {p["name"] for p in svc["spec"]["ports"]} >= {"syslog-udp", "flows", "traps"}
    [col] = by_kind(docs, "Deployment", "collectors")["spec"]["template"]["spec"]["containers"]
    cenv = {e["name"]: e.get("value") for e in col["env"]}
    assert cenv["NETVIGIL_SYSLOG__UDP_PORT"] == "5514" and cenv["NETVIGIL_FLOWS__PORT"] == "4739"


def test_servicenow_credentials_and_ingress(helm: Path) -> None:
    docs = render(
        helm,
        "servicenow.enabled=true",
        "api.ingress.enabled=true",
        "api.ingress.tlsSecret=nv-tls",
        "coordinator.persistence.enabled=false",
        "api.trustedProxies={10.42.0.0/16}",
    )
    validate(docs)
    [coord] = by_kind(docs, "Deployment", "coordinator")["spec"]["template"]["spec"]["containers"]
    cenv = {e["name"]: e.get("value") for e in coord["env"]}
    assert json.loads(cenv["NETVIGIL_API__TRUSTED_PROXIES"]) == ["10.42.0.0/16"]
    [c] = by_kind(docs, "Deployment", "workers")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["NETVIGIL_TICKETS__URL"]["value"] == "servicenow://example.service-now.com"
    for key in ("NETVIGIL_TICKETS__USER", "NETVIGIL_TICKETS__PASSWORD"):
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == "servicenow-credentials"
    assert by_kind(docs, "Ingress", "api")["spec"]["tls"][0]["secretName"] == "nv-tls"
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]


def test_more_workers_than_partitions_is_refused(helm: Path) -> None:
    assert "exceeds kafka.partitions" in refused(helm, "workers.replicas=20", "kafka.partitions=12")


def test_the_schema_check_rejects_a_broken_manifest(helm: Path) -> None:
    docs = render(helm)
    coord = by_kind(docs, "Deployment", "coordinator")
    coord["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(coord, KUBE, strict=True)
    svc = by_kind(docs, "Service", "api")
    svc["spec"]["portz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(svc, KUBE, strict=True)


def test_workers_autoscale_on_consumer_lag_when_asked(helm: Path) -> None:
    assert not [d for d in render(helm) if d["kind"] == "HorizontalPodAutoscaler"]  # off
    assert by_kind(render(helm), "Deployment", "workers")["spec"]["replicas"] == 3
    docs = render(
        helm,
        "workers.autoscaling.enabled=true",
        "workers.autoscaling.maxReplicas=8",
        "workers.autoscaling.consumerGroups={nv-netvigil-detector,nv-netvigil-correlator}",
    )
    validate(docs)
    hpa = by_kind(docs, "HorizontalPodAutoscaler", "workers")
    workers = by_kind(docs, "Deployment", "workers")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": workers["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 8)
    assert "replicas" not in workers["spec"]  # the autoscaler owns the count
    lag = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert [m["metric"]["selector"]["matchLabels"]["consumergroup"] for m in lag] == [
        "nv-netvigil-detector",
        "nv-netvigil-correlator",
    ]
    assert {m["metric"]["name"] for m in lag} == {"kafka_consumergroup_lag"}
    assert {m["target"]["type"] for m in lag} == {"AverageValue"}
    assert hpa["spec"]["behavior"]["scaleDown"]["policies"][0]["value"] == 1


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["workers.autoscaling.maxReplicas=20"], "exceeds kafka.partitions"),
        (["workers.autoscaling.minReplicas=5", "workers.autoscaling.maxReplicas=4"], "between 1"),
        (["workers.autoscaling.consumerGroups=null"], "consumerGroups is empty"),
    ],
)
def test_autoscaling_bounds_are_checked(helm: Path, sets: list[str], message: str) -> None:
    said = refused(helm, "workers.autoscaling.enabled=true", *sets)
    assert message in said, said


def test_each_processor_runs_in_one_kind_of_pod_and_decisions_only_in_the_coordinator(
    helm: Path, tmp_path: Path
) -> None:
    """The collectors' and the coordinator's `netvigil run` and the workers' `netvigil worker`,
    built from the settings the chart gives each (its env, its command): every processor of
    a deployment runs in exactly one kind of pod, and only the coordinator pod (with the
    console and the stores on its volume) decides."""
    from netvigil.config import Settings
    from netvigil.service import Service

    docs = render(helm)
    every: set[str] = set()
    runs: dict[str, set[str]] = {}
    for kind in ("collectors", "workers", "coordinator"):
        [c] = by_kind(docs, "Deployment", kind)["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        assert env["NETVIGIL_KAFKA__WORKER_PROCESSORS"] == '["detector","correlator"]'
        settings = Settings.model_validate(
            {
                "bus": {"url": "kafka://127.0.0.1:1"},  # built, never connected
                "kafka": {
                    "run_role": env.get("NETVIGIL_KAFKA__RUN_ROLE", "all"),
                    "worker_processors": json.loads(env["NETVIGIL_KAFKA__WORKER_PROCESSORS"]),
                },
                "flows": {"port": int(env.get("NETVIGIL_FLOWS__PORT", 0))},
            }
        )
        worker = c["command"] == ["netvigil", "worker"]
        only = settings.kafka.worker_processors if worker else None
        svc = Service.build(settings, data_dir=tmp_path / kind, only=only)
        try:
            runs[kind] = {p.name for p in svc.processors}
        finally:
            svc.close()
        every |= runs[kind]
    assert runs["workers"] == {"detector", "correlator"}
    assert "coordinator" in runs["coordinator"] and runs["collectors"] == {"flow-templates"}
    for a in runs:
        for b in runs:
            assert a == b or not runs[a] & runs[b], (a, b, runs[a] & runs[b])
    full = Service.build(Settings(), data_dir=tmp_path / "one-process")  # every processor
    try:
        assert every == {p.name for p in full.processors} | {"flow-templates"}
    finally:
        full.close()


def test_coordinator_partitions_run_as_more_processes_in_the_coordinator_pod(
    helm: Path,
) -> None:
    assert [
        c["name"]
        for c in by_kind(render(helm), "Deployment", "coordinator")["spec"]["template"]["spec"][
            "containers"
        ]
    ] == ["coordinator"]  # one process by default
    docs = render(helm, "coordinator.partitions=4", "coordinator.extraWorkers=2")
    validate(docs)
    pod = by_kind(docs, "Deployment", "coordinator")["spec"]["template"]["spec"]
    main, *extra = pod["containers"]
    assert [c["name"] for c in extra] == ["coordinator-1", "coordinator-2"]
    dirs = set()
    for c in (main, *extra):
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["NETVIGIL_COORDINATOR__PARTITIONS"] == "4"
        assert env["NETVIGIL_COORDINATOR__PHASE"] == "passive"
        assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]  # one set of stores
        dirs.add(env.get("NETVIGIL_KAFKA__WORKER_DIR"))
    assert dirs == {None, "/data/kafka-1", "/data/kafka-2"}  # each its own transactional id
    for c in extra:
        assert c["command"] == ["netvigil", "worker", "--processors", "coordinator"]
    said = refused(helm, "coordinator.partitions=2", "coordinator.extraWorkers=2")
    assert "must be below coordinator.partitions" in said
