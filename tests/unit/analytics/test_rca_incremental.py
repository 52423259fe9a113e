"""GroupRanking (ranking kept between an incident's revisions) against ranking from scratch.

The invariant of :class:`netvigil.analytics.rca.GroupRanking`: whatever calls came before,
``ranking.rank(store.rank_view(), xs)`` is exactly what the correlator got before it kept
rankings, ``rank(View(neighbourhood of xs), xs)`` (scores and evidence included), and what
``rank`` gives from scratch on the rank view. Checked on random symptom sequences, ranked
as they grow (the incremental path) and after random edits (the path that starts again).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netvigil.analytics import rca
from netvigil.analytics.rca import GroupRanking, rank
from netvigil.events import AnomalyRef, RootCause
from netvigil.graph.base import Device, Link
from netvigil.graph.importers import load_topology
from netvigil.graph.memory import MemoryTopology
from netvigil.twin.carrier import CarrierSpec, generate


def _demo() -> MemoryTopology:
    """The built-in topology, with a device on no link, a link parallel to another (two
    links between the same pair) and a link from a device to itself."""
    store = load_topology(None)
    assert isinstance(store, MemoryTopology)
    store.add_device(Device(name="lone"))
    a, b = store.link("core1--core2").a, store.link("core1--core2").b
    store.add_link(Link(id="core1--core2#2", a=a, a_if=f"{a}:par0", b=b, b_if=f"{b}:par0"))
    store.add_link(
        Link(id="edge1--edge1", a="edge1", a_if="edge1:lo1", b="edge1", b_if="edge1:lo2")
    )
    return store


def _carrier() -> MemoryTopology:
    store = MemoryTopology()
    net = generate(CarrierSpec(devices=60, core_sites=3, regions=2, access_per_pop=6, services=4))
    for d in net.devices:
        store.add_device(d)
    for lk in net.links:
        store.add_link(lk)
    return store


STORES = {"demo": _demo(), "carrier": _carrier()}


def _entities(store: MemoryTopology) -> list[str]:
    out = sorted(d.name for d in store.devices())
    out += sorted(lk.id for lk in store.links())
    out += sorted(e for lk in store.links() for e in (lk.a_if, lk.b_if))
    return [*out, "lone:eth0", "ghost", "ghost:eth1"]


SIGNALS = ["if.oper_status", "routing.ospf", "reachability", "routing.process.ospf", "cpu.util"]
KINDS = ["down", "down", "down", "threshold", "errors", "deviation", "admin_down", "unconfirmed"]


def _symptoms(entities: list[str]) -> st.SearchStrategy[AnomalyRef]:
    return st.builds(
        AnomalyRef,
        entity=st.sampled_from(entities),
        signal=st.sampled_from(SIGNALS),
        kind=st.sampled_from(KINDS),
        score=st.sampled_from([0.0, 0.5, 0.8, 1.0]),
        onset_ts=st.integers(0, 200).map(float),
        state=st.sampled_from(["active", "cleared"]),
    )


def _as_before(store: MemoryTopology, xs: Sequence[AnomalyRef]) -> list[RootCause]:
    """What the correlator ranked before: the symptoms' neighbourhood and its first ring."""
    entities = sorted({a.entity for a in xs})
    seeds = {d for e in entities for d in e.split(":")[0].split("--")}
    more = sorted(store.neighbourhood_devices(entities) - seeds)
    return rank(store.neighbourhood([*entities, *more]), xs)


@pytest.mark.parametrize("name", sorted(STORES))
@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_kept_ranking_equals_ranking_from_scratch(name: str, data: st.DataObject) -> None:
    store = STORES[name]
    symptoms = _symptoms(_entities(store))
    ranking = GroupRanking()
    xs: list[AnomalyRef] = []
    for _ in range(data.draw(st.integers(1, 8), label="revisions")):
        step = data.draw(st.sampled_from(["grow", "grow", "grow", "edit", "clear"]), label="step")
        new = data.draw(st.lists(symptoms, min_size=1, max_size=4), label="symptoms")
        if step == "clear" and xs:
            # a revision that only cleared symptoms: ranking reads none of it (the last
            # call's result, kept)
            xs = [msgspec.structs.replace(a, state="cleared") if a in new else a for a in xs]
            at = data.draw(st.integers(0, len(xs) - 1), label="cleared")
            xs[at] = msgspec.structs.replace(xs[at], state="cleared")
        elif step in ("grow", "clear") or not xs:
            # as the correlator's groups mostly grow: later symptoms after the earlier ones
            xs = xs + sorted(new, key=lambda a: (a.onset_ts, a.entity, a.signal))
        else:
            at = data.draw(st.integers(0, len(xs) - 1), label="at")
            xs = sorted(
                xs[:at] + new + xs[at + 1 :], key=lambda a: (a.onset_ts, a.entity, a.signal)
            )
        got = ranking.rank(store.rank_view(), xs)
        assert got == rank(store.rank_view(), xs)
        assert got == _as_before(store, xs)


def test_a_storm_ranked_as_it_grows_equals_ranking_it_whole() -> None:
    """Each device of the carrier network fails in turn (its facing interfaces down, a
    deviation beside), the group ranked after each: the kept ranking takes the incremental
    path at every step and gives what ranking from scratch gives."""
    store = STORES["carrier"]
    ranking = GroupRanking()
    xs: list[AnomalyRef] = []
    for t, dev in enumerate(sorted(d.name for d in store.devices())[:25]):
        facing = sorted(lk.end(lk.other(dev)) for lk in store.links_of(dev))
        xs += [
            AnomalyRef(entity=f, signal="if.oper_status", kind="down", score=1.0, onset_ts=10.0 * t)
            for f in facing
        ]
        xs.append(
            AnomalyRef(
                entity=dev, signal="cpu.util", kind="deviation", score=0.6, onset_ts=10.0 * t + 2
            )
        )
        got = ranking.rank(store.rank_view(), xs)
        assert got and got == _as_before(store, xs)
    assert ranking._seen == [(a.entity, a.signal, a.kind, a.score, a.onset_ts) for a in xs]


def test_a_kept_ranking_starts_again_on_a_new_shape_of_the_graph() -> None:
    store = _demo()
    lk = store.link("core1--edge1")
    ranking = GroupRanking()
    xs = [AnomalyRef(entity=lk.a_if, signal="if.oper_status", kind="down", score=1.0, onset_ts=0.0)]
    view = store.rank_view()
    assert ranking.rank(view, xs) == rank(view, xs)
    assert store.rank_view() is view  # the same shape: the same view
    store.add_link(
        Link(id="edge1--edge2#9", a="edge1", a_if="edge1:x9", b="edge2", b_if="edge2:x9")
    )
    assert store.rank_view() is not view
    xs.append(
        AnomalyRef(entity="edge1:x9", signal="if.oper_status", kind="down", score=1.0, onset_ts=1.0)
    )
    assert ranking.rank(store.rank_view(), xs) == _as_before(store, xs)


#: the walk's other paths: the edge list (no dense walk), the scores read out in numpy, hubs
#: (devices of more than 3 links join with their anomalous or candidate links only). Ranked
#: on stores of their own: what a rank view keeps of each device assumes these constants
#: do not change under it
PATCHED = {"WALK_DENSE_MAX": 0, "WALK_FEW_TARGETS": 0, "WALK_MAX_LINKS": 3}
PATCHED_STORES = {"demo": _demo(), "carrier": _carrier()}


@pytest.mark.parametrize("name", sorted(PATCHED_STORES))
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_kept_ranking_equals_ranking_from_scratch_on_the_walks_other_paths(
    name: str, data: st.DataObject
) -> None:
    store = PATCHED_STORES[name]
    symptoms = _symptoms(_entities(store))
    ranking = GroupRanking()
    xs: list[AnomalyRef] = []
    with pytest.MonkeyPatch.context() as mp:
        for constant, value in PATCHED.items():
            mp.setattr(rca, constant, value)
        for _ in range(data.draw(st.integers(1, 8), label="revisions")):
            new = data.draw(st.lists(symptoms, min_size=1, max_size=4), label="symptoms")
            xs = xs + sorted(new, key=lambda a: (a.onset_ts, a.entity, a.signal))
            got = ranking.rank(store.rank_view(), xs)
            assert got == rank(store.rank_view(), xs)  # from scratch: nothing kept


def _down(entity: str) -> AnomalyRef:
    return AnomalyRef(entity=entity, signal="if.oper_status", kind="down", score=1.0, onset_ts=0.0)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_walk_graph_kept_or_grown_is_the_graph_made_afresh(data: st.DataObject) -> None:
    """The walk's graph from the parts kept for a view (shared by every group on it) and
    from the last graph when made of the same devices equals the graph made from nothing:
    the same node numbers in the same order, edges, shares and dense step."""
    store = STORES["carrier"]
    view = store.rank_view()
    entities = _entities(store)
    kept = {rca.WALK_MAX_LINKS: rca._Parts(), 3: rca._Parts()}  # parts assume the constant
    last = None
    for _ in range(data.draw(st.integers(1, 6), label="walks")):
        seen = data.draw(st.lists(st.sampled_from(entities), min_size=1, max_size=8))
        seeds = rca._Seeds()
        seeds.add(view, [_down(e) for e in seen])
        targets = set(data.draw(st.lists(st.sampled_from(entities), max_size=6)))
        hubs = data.draw(st.sampled_from([rca.WALK_MAX_LINKS, 3]), label="hub links")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(rca, "WALK_MAX_LINKS", hubs)
            got = rca._walk_graph(view, seeds, targets, kept[hubs], last)
            want = rca._walk_graph(view, seeds, targets, rca._Parts())
        assert list(got.index.items()) == list(want.index.items())
        for a, b in [(got.src, want.src), (got.dst, want.dst), (got.share, want.share)]:
            assert np.array_equal(a, b)
        assert (got.m is None) == (want.m is None)
        assert got.m is None or np.array_equal(got.m, want.m)  # no walk wrote its seeds
        assert got.key == want.key
        last = got


def test_a_new_candidate_brings_its_devices_into_the_walk() -> None:
    """A symptom on an entity already seen can make a candidate whose link reaches a device
    the walk did not hold (errors on an interface that showed only a deviation): the walk's
    graph is made again with it, as ranking from scratch makes it."""
    store = STORES["demo"]
    view = store.rank_view()
    xs = [
        _down("edge3:1/1/0"),
        AnomalyRef(
            entity="edge1:Ethernet0", signal="if.util", kind="deviation", score=0.6, onset_ts=1.0
        ),
    ]
    ranking = GroupRanking()
    assert ranking.rank(view, xs) == rank(view, xs)
    assert ranking._graph is not None and ranking._graph.key == ("core3", "edge1", "edge3")
    xs.append(
        AnomalyRef(
            entity="edge1:Ethernet0", signal="if.in_errors", kind="errors", score=0.8, onset_ts=2.0
        )
    )
    got = ranking.rank(view, xs)
    assert got == rank(view, xs) == _as_before(store, xs)
    assert ranking._graph.key == ("core1", "core3", "edge1", "edge3")  # core1--edge1
    assert any(rc.entity == "core1--edge1" for rc in got)


def test_a_ranking_of_the_same_symptoms_again_is_the_last_one_and_a_copy() -> None:
    """A revision that only clears symptoms (their state is not read) gets the last call's
    root causes: equal to ranking from scratch, as new objects, so a caller that changes
    what it got does not change what the next call returns."""
    store = STORES["carrier"]
    view = store.rank_view()
    dev = sorted(d.name for d in store.devices())[0]
    xs = [_down(lk.end(lk.other(dev))) for lk in store.links_of(dev)]
    ranking = GroupRanking()
    first = ranking.rank(view, xs)
    assert first == rank(view, xs) and first
    first[0].evidence.append("changed by the caller")
    first[0] = RootCause(entity="x", kind="device", score=0.0)
    cleared = [msgspec.structs.replace(a, state="cleared") for a in xs]
    again = ranking.rank(view, cleared)
    assert again == rank(view, cleared) == rank(view, xs)
    again[0].evidence.append("changed by the caller")
    assert ranking.rank(view, cleared) == rank(view, xs)
    assert ranking.rank(view, cleared, top=2) == rank(view, xs, top=2)  # another top: ranked
    assert ranking.rank(store.rank_view(), xs) == rank(view, xs)


@pytest.mark.parametrize("name", sorted(STORES))
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_scores_in_numpy_are_the_scores_in_python(name: str, data: st.DataObject) -> None:
    """Many candidates are scored in numpy, few in Python (``SCORE_FEW``): the same root
    causes, scores and order either way, ties at 9 digits included."""
    store = STORES[name]
    view = store.rank_view()
    xs = sorted(
        data.draw(st.lists(_symptoms(_entities(store)), min_size=1, max_size=30)),
        key=lambda a: (a.onset_ts, a.entity, a.signal),
    )
    top = data.draw(st.integers(1, 8), label="top")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rca, "SCORE_FEW", 0)
        many = rank(view, xs, top)
        mp.setattr(rca, "SCORE_FEW", 10**9)
        few = rank(view, xs, top)
    assert many == few
    _same_ranked(view, xs)


def _same_ranked(view: rca.Topo, xs: list[AnomalyRef]) -> None:
    """Every candidate that fits, its exact score, hypothesis and symptoms shown, in the
    same order, from the numpy and the Python scoring."""
    ev = rca._collect(view, xs)
    if not ev.strength:
        return
    cands = rca.hypotheses(view, ev)
    seeds = rca._seeds(view, xs)
    targets = {c.entity for c in cands}
    walk = rca._walk(view, seeds, targets, rca._walk_graph(view, seeds, targets, rca._Parts()))
    total = sum(ev.strength.values())
    python = rca._ranked(ev, walk, cands, total, None)
    numpy = list(rca._ranked_many([rca._fit_of(h, ev, None) for h in cands], walk, total))
    assert [(s, h, set(c)) for s, h, c in numpy] == [(s, h, set(c)) for s, h, c in python]


def test_a_storm_scored_in_numpy_equals_python() -> None:
    """Twenty-five device failures of the carrier network in one group (many candidates,
    symmetric ones tied to 9 digits): the same ranking in numpy and in Python, every
    candidate."""
    store = STORES["carrier"]
    view = store.rank_view()
    xs: list[AnomalyRef] = []
    for t, dev in enumerate(sorted(d.name for d in store.devices())[:25]):
        xs += [
            AnomalyRef(
                entity=lk.end(lk.other(dev)),
                signal="if.oper_status",
                kind="down",
                score=1.0,
                onset_ts=10.0 * t,
            )
            for lk in store.links_of(dev)
        ]
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(rca, "SCORE_FEW", 0)
            many = rank(view, xs, 1000)
            mp.setattr(rca, "SCORE_FEW", 10**9)
            assert many == rank(view, xs, 1000)
        _same_ranked(view, xs)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_edge_list_walk_through_scipy_is_the_walk_through_bincount(
    data: st.DataObject,
) -> None:
    """The edge-list walk's steps through scipy's CSR product give the values of
    ``np.bincount`` bit for bit (the same products summed in the same order)."""
    store = STORES["carrier"]
    view = store.rank_view()
    entities = _entities(store)
    seen = data.draw(st.lists(st.sampled_from(entities), min_size=1, max_size=12))
    xs = [
        AnomalyRef(entity=e, signal="if.oper_status", kind="down", score=1.0, onset_ts=float(i % 7))
        for i, e in enumerate(seen)
    ]
    targets = set(data.draw(st.lists(st.sampled_from(entities), max_size=10)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rca, "WALK_DENSE_MAX", 0)
        seeds = rca._seeds(view, xs)
        graph = rca._walk_graph(view, seeds, targets, rca._Parts())
        assert graph.starts is not None
        through_scipy = rca._walk(view, seeds, targets, graph)
        mp.setattr(rca, "_csr_matvec", None)
        through_bincount = rca._walk(view, seeds, targets, graph)
    assert rca._csr_matvec is not None  # this scipy has it: the first walk went through it
    assert list(through_scipy.items()) == list(through_bincount.items())


def test_a_ranking_that_raises_leaves_nothing_half_made() -> None:
    """A call that fails midway (here: making a link's hypotheses again) leaves no evidence,
    hypotheses or result of it behind: the next call ranks from scratch."""
    store = STORES["demo"]
    view = store.rank_view()
    lk = store.link("core1--edge1")
    xs = [_down(lk.a_if)]
    ranking = GroupRanking()
    assert ranking.rank(view, xs) == rank(view, xs)
    ys = [*xs, _down(lk.b_if)]

    def fails(*_: object) -> None:
        raise RuntimeError("midway")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(GroupRanking, "_update", fails)
        with pytest.raises(RuntimeError):
            ranking.rank(view, ys)
    assert ranking.rank(view, ys) == rank(view, ys)
    assert ranking.rank(view, ys) == rank(view, ys)  # and again, the kept result


def test_a_far_end_counted_full_then_seen_down_is_ranked_again() -> None:
    """A device down's fit reads whether each far end it predicts down runs full instead (a
    threshold and no down): a down symptom joining such an end changes that fit, and the
    kept ranking gives what ranking from scratch gives."""
    store = STORES["demo"]
    view = store.rank_view()
    far = store.link("core1--edge1").end("core1")
    xs = [
        AnomalyRef(entity="edge1", signal="reachability", kind="down", score=1.0, onset_ts=0.0),
        AnomalyRef(entity=far, signal="if.in_util", kind="threshold", score=1.0, onset_ts=1.0),
    ]
    ranking = GroupRanking()
    first = ranking.rank(view, xs)
    assert first == rank(view, xs) and first[0].entity == "core1--edge1"
    xs.append(AnomalyRef(entity=far, signal="if.oper_status", kind="down", score=1.0, onset_ts=2.0))
    got = ranking.rank(view, xs)
    assert got == rank(view, xs) == _as_before(store, xs)
    assert got[0].entity == "edge1" and got[0].fault == "down"
