"""Executors against real peers: gNMI Set with pygnmi against the twin's gNMI endpoints
(served over real gRPC by ``netvigil twin serve``), and ansible-runner running the catalog's
playbooks. (A third-party gNMI target, gnxi's gnmi_target, cannot be installed here: the Go
module proxy refuses it; see CONTRIBUTING.md.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pygnmi.client import gNMIclient

from netvigil.graph.importers import load_topology
from netvigil.resolvers.catalog import Facts, load_catalog, playbook_dir
from netvigil.resolvers.executors.ansible import AnsibleExecutor
from netvigil.resolvers.executors.gnmi import GnmiExecutor, GnmiTarget

pytestmark = pytest.mark.integration


def _facts() -> Facts:
    link = load_topology(None).link("core1--core2")
    return Facts(
        target=link.id,
        fault="congestion",
        confidence=0.9,
        a=link.a,
        b=link.b,
        a_if=link.a_if.partition(":")[2],
        b_if=link.b_if.partition(":")[2],
        src=link.a,
        src_if=link.a_if.partition(":")[2],
        orig_metric=link.igp_metric,
    )


def _metric(endpoints: dict[str, tuple[str, int]], device: str, path: str) -> object:
    with gNMIclient(target=endpoints[device], insecure=True) as gc:
        res = gc.get(path=[path], encoding="json_ietf")
    for note in res["notification"]:
        for upd in note["update"]:
            return upd["val"]
    raise KeyError(path)


def test_gnmi_set_changes_the_metric_and_rollback_restores_it(
    twin: dict[str, tuple[str, int]],
) -> None:
    spec = load_catalog().get("igp_metric_change")
    facts = _facts()
    ex = GnmiExecutor({d: GnmiTarget(h, p) for d, (h, p) in twin.items()})
    ops = spec.render(facts, spec.params({"metric": 777}))
    before = _metric(twin, "core1", ops[0].path)
    dry = ex.execute(spec.name, facts.target, ops, {}, dry_run=True)
    assert dry.ok and dry.dry_run and _metric(twin, "core1", ops[0].path) == before
    out = ex.execute(spec.name, facts.target, ops, {}, dry_run=False)
    assert out.ok, out.detail
    assert _metric(twin, "core1", ops[0].path) == 777
    assert _metric(twin, "core2", ops[1].path) == 777
    back = ex.execute(
        spec.name,
        facts.target,
        spec.render(facts, {"metric": 777}, rollback=True),
        {},
        dry_run=False,
    )
    assert back.ok and _metric(twin, "core1", ops[0].path) == before


def test_gnmi_interface_reset_leaves_the_interface_enabled(
    twin: dict[str, tuple[str, int]],
) -> None:
    spec = load_catalog().get("interface_reset")
    facts = _facts()
    ex = GnmiExecutor({d: GnmiTarget(h, p) for d, (h, p) in twin.items()})
    ops = spec.render(facts, {})
    out = ex.execute(spec.name, facts.target, ops, {}, dry_run=False)
    assert out.ok, out.detail
    assert _metric(twin, "core1", ops[0].path) is True


def test_gnmi_unreachable_target_fails_with_the_reason() -> None:
    from provision.common import free_port

    spec = load_catalog().get("interface_reset")
    ex = GnmiExecutor({"core1": GnmiTarget("127.0.0.1", free_port(), timeout_s=2)})
    out = ex.execute(spec.name, "core1--core2", spec.render(_facts(), {}), {}, dry_run=False)
    assert not out.ok and "core1" in out.detail


# After the gNMI tests above, gRPC is initialised in this process when ansible-runner forks
# the playbook process; with gRPC's fork support on, that child could die before exec
# ("epoll_wait: Bad file descriptor"). netvigil/__init__.py turns fork support off.
def test_ansible_runner_runs_the_catalog_playbooks(tmp_path: Path) -> None:
    cat = load_catalog()
    hosts = {
        d: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for d in ("core1", "core2")
    }
    ex = AnsibleExecutor(
        playbook_dir(),
        hosts,
        playbook_of={n: s.playbook for n, s in cat.actions.items() if s.playbook},
        work_dir=tmp_path / "runs",
        extravars={"netvigil_config_dir": str(tmp_path / "cfg")},
    )
    spec = cat.get("igp_metric_change")
    ops = spec.render(_facts(), spec.params({"metric": 500}))
    dry = ex.execute(spec.name, "core1--core2", ops, {"metric": 500}, dry_run=True)
    assert dry.ok and dry.dry_run and not (tmp_path / "cfg" / "core1.cfg").exists()
    out = ex.execute(spec.name, "core1--core2", ops, {"metric": 500}, dry_run=False)
    assert out.ok, out.detail
    assert out.data["stats"]["changed"] == {"core1": 1, "core2": 1}
    cfg = (tmp_path / "cfg" / "core1.cfg").read_text()
    assert "isis/interfaces/interface" in cfg and cfg.rstrip("\n").split("\n")[1].endswith(" 500")
    bgp = ex.execute("bgp_soft_clear", "core1", [], {"direction": "in"}, dry_run=False)
    assert bgp.ok and "clear bgp all * soft in" in (tmp_path / "cfg" / "core1.cfg").read_text()
