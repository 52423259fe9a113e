"""Executors are chosen from the settings, like the graph and ticket backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.config import GnmiTargetSettings, load_settings
from netvigil.errors import ConfigError
from netvigil.resolvers.catalog import load_catalog
from netvigil.resolvers.executors.ansible import AnsibleExecutor
from netvigil.resolvers.executors.gnmi import GnmiExecutor
from netvigil.resolvers.executors.registry import ExecutorContext, NoExecutor, open_executor


def _ctx(tmp: Path, **coordinator: object) -> ExecutorContext:
    s = load_settings()
    for k, v in coordinator.items():
        setattr(s.coordinator, k, v)
    return ExecutorContext(s, load_catalog(), tmp)


def test_twin_without_a_twin_and_none_only_propose(tmp_path: Path) -> None:
    for name in ("twin", "none"):
        ex = open_executor(_ctx(tmp_path, executor=name))
        assert isinstance(ex, NoExecutor) and ex.runs_inline
        assert not ex.execute("interface_reset", "a--b", [], {}, dry_run=False).ok


def test_gnmi_uses_the_gnmi_targets_and_runs_off_the_loop(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, executor="gnmi")
    with pytest.raises(ConfigError, match=r"gnmi\.targets"):
        open_executor(ctx)
    target = GnmiTargetSettings(host="127.0.0.1", port=57400, device="core1", insecure=True)
    ctx.settings.gnmi.targets = [target]
    ex = open_executor(ctx)
    assert isinstance(ex, GnmiExecutor) and not ex.runs_inline
    assert ex.targets["core1"].port == 57400


def test_ansible_needs_an_inventory_of_host_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ansible_inventory"):
        open_executor(_ctx(tmp_path, executor="ansible"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- core1\n")
    with pytest.raises(ConfigError, match="mapping"):
        open_executor(_ctx(tmp_path, executor="ansible", ansible_inventory=bad))
    inv = tmp_path / "inventory.yaml"
    inv.write_text("core1: {ansible_connection: local}\n")
    ex = open_executor(_ctx(tmp_path, executor="ansible", ansible_inventory=inv))
    assert isinstance(ex, AnsibleExecutor) and not ex.runs_inline
    assert ex.hosts == {"core1": {"ansible_connection": "local"}}
    assert "interface_reset" in ex.playbook_of
