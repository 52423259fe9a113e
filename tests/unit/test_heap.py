"""The service takes what it built out of the collector's full passes (netvigil/heap.py); a
rebuild (a topology reload in the same process) frees the last build's cycles instead of
keeping them, and a full collection freezes its survivors but thaws every THAW_EVERY-th."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netvigil import heap
from netvigil.config import Settings, load_settings
from netvigil.service import Service
from netvigil.twin.carrier import CarrierSpec, generate


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    """The freezing is process-wide: give the rest of the test run its collector back."""
    yield
    heap.release()


def _settings(tmp: Path) -> Settings:
    inventory = tmp / "carrier.yaml"
    net = generate(CarrierSpec(devices=300, seed=1))
    inventory.write_text(yaml.safe_dump(net.to_yaml(), sort_keys=False))
    s = load_settings()
    s.graph.topology = inventory
    s.detector.log_classifier = "keywords"
    s.storage.freeze_heap = True
    return s


def _tracked(obj: object) -> bool:
    """In a collected generation (not frozen)."""
    return any(o is obj for o in gc.get_objects())


def test_the_service_freezes_the_topology_it_loaded(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    svc = Service.build(s, data_dir=tmp_path / "data")
    try:
        topo = svc.topology
        assert len(topo.devices()) == 300
        # the store, its graph and a device's record are out of every collection
        assert gc.get_freeze_count() > 0
        assert not _tracked(topo)
        assert not _tracked(topo.devices()[0])
        assert not _tracked(svc.runtime)
    finally:
        svc.close()


def test_the_heap_is_left_alone_unless_asked(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    s.storage.freeze_heap = False
    svc = Service.build(s, data_dir=tmp_path / "data")
    try:
        assert gc.get_freeze_count() == 0
        assert _tracked(svc.topology)
        assert heap._after_full not in gc.callbacks
    finally:
        svc.close()


def test_rebuilding_the_service_frees_the_last_build_even_in_a_cycle(tmp_path: Path) -> None:
    """Frozen objects are never collected; each build unfreezes, collects, and freezes again,
    so a service dropped in a cycle (here its store points at itself) goes at the next build,
    and the frozen set does not grow with the number of builds."""
    s = _settings(tmp_path)
    gone: list[weakref.ref[object]] = []
    frozen: list[int] = []
    for i in range(4):
        svc = Service.build(s, data_dir=tmp_path / f"data{i}")
        frozen.append(gc.get_freeze_count())
        topo = svc.topology
        topo.itself = topo  # type: ignore[attr-defined]  # only a collection can free it now
        gone.append(weakref.ref(topo))
        svc.close()
        del svc, topo
    assert [r() is None for r in gone] == [True, True, True, False]
    # the first build's frozen set holds what the process had before too; after it, each
    # build freezes one service and one topology, not one more per build
    assert max(frozen[1:]) - min(frozen[1:]) < (frozen[1] - frozen[0]) + 0.02 * frozen[1]
    assert max(frozen[2:]) <= frozen[1] * 1.02


def test_full_collections_freeze_their_survivors_and_thaw_every_few(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heap.settle()
    monkeypatch.setattr(heap, "_full", [0])  # count from here

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only a collection frees it

    gc.disable()  # no automatic collection in between: only the ones below count
    try:
        dropped = []
        for _ in range(heap.THAW_EVERY - 1):
            node = Node()
            dropped.append(weakref.ref(node))
            gc.collect()  # it survives: frozen
            assert not _tracked(node)
            del node  # cyclic garbage, frozen: the next collections do not see it
        gc.collect()
        assert all(r() is not None for r in dropped)  # frozen garbage stays...
        gc.collect()  # ...until the collection after the THAW_EVERY-th, which walks all
        assert all(r() is None for r in dropped)
    finally:
        gc.enable()
