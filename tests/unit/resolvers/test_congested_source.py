"""Which end of a congested link the remediation acts on (``facts_of``'s ``src_if``)."""

from __future__ import annotations

from netvigil.events import AnomalyRef, Incident, RootCause, split_interface_id
from netvigil.graph.importers import load_topology
from netvigil.resolvers.priority import facts_of


def incident(link: str, *refs: tuple[str, str]) -> Incident:
    return Incident(
        ts=0.0,
        fingerprint="f",
        status="open",
        revision=1,
        opened_ts=0.0,
        title="t",
        root_causes=[RootCause(entity=link, kind="link", score=0.9, fault="congestion")],
        anomalies=[
            AnomalyRef(entity=e, signal=s, kind="threshold", score=1.0, onset_ts=0.0)
            for e, s in refs
        ],
    )


def test_the_sending_end_is_the_one_over_its_sent_share_else_the_receiver_s_far_end() -> None:
    topo = load_topology(None)
    lk = topo.link("core2--core3")
    cases = {
        (lk.b_if, "if.out_util"): lk.b_if,  # b sends too much
        (lk.b_if, "if.in_util"): lk.a_if,  # b receives too much: a sends it
        (lk.a_if, "if.in_util"): lk.b_if,
    }
    for (entity, signal), want in cases.items():
        facts = facts_of(topo, incident(lk.id, (entity, signal)), {})
        assert facts is not None
        assert (facts.src, facts.src_if) == split_interface_id(want), (entity, signal)
    # both ends say it: the sender's own count wins
    both = facts_of(topo, incident(lk.id, (lk.a_if, "if.in_util"), (lk.a_if, "if.out_util")), {})
    assert both is not None and both.src_if == split_interface_id(lk.a_if)[1]
