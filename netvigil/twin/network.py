"""The twin's network model: demands, routing, link loads, and the telemetry devices report.

Demands follow a gravity model (product of device weights) with a daily cycle and noise;
routing is shortest path by IGP metric with equal-cost multipath split per hop; a link's load
is the sum of the demands routed over it, per direction. Faults change the state (links and
devices down, pinned demand surges, lossy links, links and devices out of routing while their
interfaces stay up, raised IGP metrics; a link fault with a ``direction`` is that end shut down
by an operator, which polls skip and traps report as ``admin_down``) and routing follows; each
device reports its IGP adjacencies leaving and reaching Full (``ospf_down`` / ``ospf_up``
events, as routers log them). A lossy link keeps its routes (loss does not change IGP metrics):
its receiving interfaces count input errors (unless the fault is an uncounted drop), and
:meth:`TwinNetwork.path_state` gives the loss and latency a service's traffic meets on its
path, which the twin's services (``twin/services.py``) serve. With a ``poller`` (the device the
management station sits behind), a failure that isolates devices from it silences them: they
are reported unreachable and send nothing, as a carrier's storm looks from its NOC. Everything
is a function of the seed and the simulated time, so the same seed gives the same telemetry.

A ``poller_overload`` (benign: the monitoring's own health) changes nothing in the network:
for its duration the polls of :data:`~netvigil.twin.faults.POLLER_OVERLOAD_SHARE` of the
devices (drawn by name and the fault's start) time out, so they send no polled metrics and
are reported ``unreachable`` with the ``poller_overload`` mark the SNMP poller gives its
verdicts when it is overloaded (:mod:`netvigil.collectors.snmp.health`); what devices push
(traps, syslog) still arrives. The lab's overload bursts looked like that. Under
``poll_timeouts`` (benign too) single devices' polls time out now and then, as the lab's
loaded machine showed between its bursts, and a congestion whose sender does not answer
(``Fault.sender_answers``) times out that sender's polls while it lasts: with
``received_util`` (each interface's ``if.in_util`` reported, as the collectors derive it)
the far end's received utilization is then what shows the congestion. Every verdict is the
poller's rule (:mod:`netvigil.twin.poller`): ``unreachable`` after ``down_after`` failed
polls in a row, the service's ``snmp.down_after``.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse

from netvigil.errors import TopologyError
from netvigil.events import DeviceEvent, Event, Metric
from netvigil.graph.base import Link, TopologyStore
from netvigil.graph.discovery.lldp import Neighbor
from netvigil.twin.faults import (
    LOSS_KINDS,
    MISCONFIG_METRIC,
    POLLER_OVERLOAD_SHARE,
    SURGE_KINDS,
    Fault,
)
from netvigil.twin.poller import PollVerdicts, lone_timeouts

__all__ = ["MAX_ENDPOINTS", "PathState", "TwinNetwork"]

#: demands run between at most this many devices (the heaviest), to bound the model's size
MAX_ENDPOINTS = 40
#: normal peak utilization of the busiest link direction, which sets the traffic scale
PEAK_UTIL = 0.55
DAILY_SWING = 0.3
NOISE_SIGMA = 0.03
AVG_PACKET_BITS = 8000.0
#: one-way delay of a link when its ``latency_ms`` property does not say (a metro hop)
LINK_LATENCY_MS = 1.0
#: queueing delay scale: a direction at utilization u adds QUEUE_MS * u / (1 - u) ms
QUEUE_MS = 0.2
MAX_QUEUE_MS = 50.0


@dataclass(frozen=True)
class PathState:
    """What traffic from one device to another meets at one instant (ECMP-weighted)."""

    links: tuple[str, ...]
    """Links carrying any share of the traffic, sorted."""
    loss: float
    """Expected share of packets lost on the way."""
    latency_ms: float
    """Expected one-way delay: propagation plus queueing."""
    reachable: bool = True


def _hops(
    g: nx.Graph,
    best: dict[tuple[str, str], list[Link]],
    to_d: dict[str, float],
    s: str,
    d: str,
) -> Iterable[tuple[str, Link, float]]:
    """(device, link it sends on, share of the demand) of the traffic from ``s`` to ``d``:
    each device splits what it forwards equally over its next hops (every equal-cost
    neighbour, each parallel link of equal metric one next hop), as routers' ECMP does (per
    hop, hashing many flows), not equally over whole paths. ``to_d``: distances to ``d``."""
    pending = {s: 1.0}
    heap = [(-to_d[s], s)]
    while heap:
        _, u = heapq.heappop(heap)
        share = pending.pop(u, 0.0)
        if u == d or share <= 0.0:
            continue
        hops = [
            (v, lk)
            for v in g[u]
            if v in to_d and to_d[v] + g[u][v]["weight"] == to_d[u]
            for lk in best[(min(u, v), max(u, v))]
        ]
        for v, lk in hops:
            yield u, lk, share / len(hops)
            if v not in pending:
                heapq.heappush(heap, (-to_d[v], v))
            pending[v] = pending.get(v, 0.0) + share / len(hops)


@dataclass(frozen=True)
class _Dir:
    link: Link
    src: str  # the device the traffic leaves from

    @property
    def out_if(self) -> str:
        return self.link.end(self.src)

    @property
    def in_if(self) -> str:
        return self.link.end(self.link.other(self.src))


class TwinNetwork:
    """A simulated network; :meth:`step` returns the telemetry of one sampling instant."""

    def __init__(
        self,
        topo: TopologyStore,
        faults: Sequence[Fault] = (),
        *,
        seed: int,
        poll_reachability: bool = False,
        poller: str | None = None,
        down_after: int = 1,
        received_util: bool = False,
    ) -> None:
        self.topo = topo
        #: also report every device's reachability each step, as a poller does (1 up, 0 down)
        self.poll_reachability = poll_reachability
        #: also report each interface's received utilization (``if.in_util``: its received
        #: bits over the link's capacity), as the SNMP and gNMI collectors derive it
        self.received_util = received_util
        #: the device the management station sits behind; None: every device that runs is
        #: seen. Set, a device with no working path to it is *cut off*: it is reported
        #: unreachable and none of its telemetry arrives (see :meth:`cut_off`)
        self.poller = poller
        if poller is not None and all(d.name != poller for d in topo.devices()):
            raise TopologyError(f"poller {poller!r} is not a device of the topology")
        self._cut_key: tuple[frozenset[str], frozenset[str]] | None = None
        self._cut: frozenset[str] = frozenset()
        self.faults = sorted(faults, key=lambda f: f.start)
        #: operator changes (gNMI Set): interfaces shut down, and IGP metrics per link
        self.admin_down: set[str] = set()
        self.igp_metric: dict[str, int] = {}
        self._rng = np.random.default_rng(seed)
        self._dirs = [_Dir(lk, end) for lk in topo.links() for end in (lk.a, lk.b)]
        self._dir_index = {(d.link.id, d.src): i for i, d in enumerate(self._dirs)}
        self._caps = np.array([d.link.capacity_bps for d in self._dirs])
        devices = sorted(topo.devices(), key=lambda d: (-d.weight, d.name))[:MAX_ENDPOINTS]
        self._pairs = [(s.name, d.name) for s in devices for d in devices if s.name != d.name]
        weights = {d.name: d.weight for d in devices}
        gravity = np.array([weights[s] * weights[d] for s, d in self._pairs])
        self._base = gravity / max(gravity.sum(), 1e-9)
        self._routing_key: tuple[object, ...] | None = None
        # out of routing with their interfaces up, and IGP metrics faults set (by _state)
        self._unrouted_links: frozenset[str] = frozenset()
        self._unrouted_devs: frozenset[str] = frozenset()
        # the interfaces whose MTU a mismatch lowered: their routing daemon logs nothing
        self._mtu_low: frozenset[str] = frozenset()
        self._fault_metric: dict[str, int] = {}
        self._mute: frozenset[str] = frozenset()  # senders whose polls time out (by _state)
        # interfaces a fault shut down (administratively: its ``direction`` end), by _state
        self._shut: set[str] = set()
        self._prev_shut: set[str] = set()
        # operational changes made by executors (see twin/whatif.py): they outlive faults
        self.policers: dict[str, float] = {}
        self.fault_cleared: dict[Fault, float] = {}
        self._routing: sparse.csr_matrix | None = None
        self._reachable = np.ones(len(self._pairs), dtype=bool)
        # total traffic (bps) such that the busiest direction peaks at PEAK_UTIL, all links up
        m, _ = self._route(frozenset(), frozenset())
        peak = np.asarray(m @ (self._base * (1 + DAILY_SWING))).ravel()
        worst = float(np.max(peak / self._caps)) if len(peak) else 0.0
        self._total_bps = PEAK_UTIL / worst if worst > 0 else 0.0
        self._prev_status: dict[str, int] = {}
        self._loss: dict[str, float] = {}  # link id -> share of frames lost (set by _state)
        self._uncounted: set[str] = set()  # lossy links whose losses no counter counts
        self._last_util = np.zeros(len(self._dirs))
        #: the poller's verdicts: unreachable after ``down_after`` failed polls in a row
        self.verdicts = PollVerdicts(sorted(d.name for d in topo.devices()), down_after)
        self._prev_lone: frozenset[str] = frozenset()
        self._prev_step: float | None = None
        self._prev_adjacency: dict[str, bool] = {}
        self._prev_unrouted: frozenset[str] = frozenset()
        self.unreachable_demand_bps = 0.0
        #: (source device, destination device, bps) of the demands delivered at the last step
        self.last_demands: list[tuple[str, str, float]] = []
        #: what-if growth of demands between devices, (source, destination) -> bps added to
        #: the pair's demand in :meth:`expected_load` (routed like it; see twin/foresight.py)
        self.extra_demand: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ state

    def active_faults(self, t: float) -> list[Fault]:
        return [
            f
            for f in self.faults
            if f.active(t) and not (f in self.fault_cleared and t >= self.fault_cleared[f])
        ]

    def _state(
        self, t: float, since: float | None = None
    ) -> tuple[frozenset[str], frozenset[str], list[Fault]]:
        """The network's state at ``t``; with ``since`` (the previous step), a link that
        flapped down since then counts as down (what its router reported meanwhile)."""
        active = self.active_faults(t)
        if since is not None:  # a flap repaired before ``since`` flaps no more
            cleared = self.fault_cleared
            active += [
                f
                for f in self.faults
                if f.kind == "flap"
                and f not in active
                and cleared.get(f, t) > since
                and f.links_down(t, since)
            ]
        down_dev = frozenset(f.target for f in active if f.kind == "node_down")
        down_links = {lk for f in active for lk in f.links_down(t, since)}
        self._loss = {}
        for f in active:
            if f.kind in LOSS_KINDS:  # two lossy faults on one link: both lose frames
                self._loss[f.target] = 1 - (1 - self._loss.get(f.target, 0.0)) * (1 - f.loss(t))
        self._uncounted = {f.target for f in active if f.kind in LOSS_KINDS and not f.counted}
        down_links |= {i.link for i in map(self.topo.interface, self.admin_down) if i.link}
        for lk in self.topo.links():
            if lk.a in down_dev or lk.b in down_dev:
                down_links.add(lk.id)
        surges = [f for f in active if f.kind in SURGE_KINDS]
        self._unrouted_devs = frozenset(f.target for f in active if f.kind == "routing_crash")
        self._unrouted_links = frozenset(
            {f.target for f in active if f.kind == "mtu_mismatch"}
            | {lk.id for d in self._unrouted_devs for lk in self.topo.links_of(d)}
        )
        self._mtu_low = frozenset(
            self.topo.link(f.target).end(f.direction or self.topo.link(f.target).a)
            for f in active
            if f.kind == "mtu_mismatch"
        )
        self._fault_metric = {
            f.target: MISCONFIG_METRIC for f in active if f.kind == "cost_misconfig"
        }
        self._shut = {
            self.topo.link(f.target).end(f.direction)
            for f in active
            if f.kind in ("link_down", "flap")
            and f.direction
            and f.target in f.links_down(t, since)
        }
        # the senders of congestions whose agents do not answer (Fault.sender_answers)
        self._mute = frozenset(
            f.direction or self.topo.link(f.target).a
            for f in active
            if f.kind == "congestion" and not f.sender_answers
        )
        return frozenset(down_links), down_dev, surges

    def cut_off(self, down_links: frozenset[str], down_dev: frozenset[str]) -> frozenset[str]:
        """Devices that run but have no path of working links to :attr:`poller` (none
        without a poller, and all of them when the poller itself is down): a failure that
        isolates part of the network silences it, as the management station sees it."""
        if self.poller is None:
            return frozenset()
        key = (down_links, down_dev)
        if self._cut_key == key:
            return self._cut
        running = {d.name for d in self.topo.devices()} - down_dev
        g = nx.Graph()
        g.add_nodes_from(running)
        g.add_edges_from(
            (lk.a, lk.b)
            for lk in self.topo.links()
            if lk.id not in down_links and lk.a in running and lk.b in running
        )
        seen = nx.node_connected_component(g, self.poller) if self.poller in g else set()
        self._cut_key, self._cut = key, frozenset(running - seen)
        return self._cut

    def _route(
        self, down_links: frozenset[str], down_dev: frozenset[str]
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """The routing matrix (direction x demand pair, fraction of the demand) and reachability.

        Links and devices out of routing (``_state``) route like down ones."""
        down_links = down_links | self._unrouted_links
        down_dev = down_dev | self._unrouted_devs
        metrics = {**self._fault_metric, **self.igp_metric}
        key = (down_links, down_dev, tuple(sorted(metrics.items())))
        if self._routing_key == key and self._routing is not None:
            return self._routing, self._reachable
        g = nx.Graph()
        best: dict[tuple[str, str], list[Link]] = {}
        for lk in self.topo.links():
            if lk.id in down_links:
                continue
            k = (min(lk.a, lk.b), max(lk.a, lk.b))
            cur = best.get(k)
            if cur is None or self.metric(lk) < self.metric(cur[0]):
                best[k] = [lk]
            elif self.metric(lk) == self.metric(cur[0]):
                cur.append(lk)
        for (a, b), lks in best.items():
            g.add_edge(a, b, weight=self.metric(lks[0]))
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        reachable = np.zeros(len(self._pairs), dtype=bool)
        dist: dict[str, dict[str, float]] = {}
        for j, (s, d) in enumerate(self._pairs):
            if s in down_dev or d in down_dev or s not in g or d not in g:
                continue
            if d not in dist:
                dist[d] = nx.single_source_dijkstra_path_length(g, d, weight="weight")
            to_d = dist[d]
            if s not in to_d:
                continue
            reachable[j] = True
            for u, lk, share in _hops(g, best, to_d, s, d):
                rows.append(self._dir_index[(lk.id, u)])
                cols.append(j)
                vals.append(share)
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(self._dirs), len(self._pairs)))
        self._routing_key, self._routing, self._reachable = key, m, reachable
        return m, reachable

    def lldp_tables(self, t: float) -> dict[str, list[Neighbor]]:
        """What each running device's LLDP lists at ``t``: its neighbours over links that are up."""
        down_links, down_dev, _ = self._state(t)
        tables: dict[str, list[Neighbor]] = {
            d.name: [] for d in self.topo.devices() if d.name not in down_dev
        }
        for lk in self.topo.links():
            if lk.id in down_links or lk.a == lk.b:
                continue
            for dev in (lk.a, lk.b):
                far = lk.other(dev)
                tables[dev].append(
                    Neighbor(
                        local_port=lk.end(dev).partition(":")[2],
                        remote_system=far,
                        remote_port=lk.end(far).partition(":")[2],
                    )
                )
        return tables

    def hop_loads(self) -> list[tuple[str, str, str, str, float]]:
        """Per demand and link direction at the last step: (source device, destination
        device, link id, device the traffic enters, bps) — what ingress flow export sees."""
        if not hasattr(self, "_last_hops"):
            return []
        m, demand_bps = self._last_hops
        coo = m.tocoo()
        out = []
        for i, j, frac in zip(coo.row, coo.col, coo.data, strict=True):
            d = self._dirs[int(i)]
            s, t = self._pairs[int(j)]
            out.append((s, t, d.link.id, d.link.other(d.src), float(frac * demand_bps[int(j)])))
        return out

    def path_state(self, src: str, dst: str, t: float) -> PathState:
        """Loss and latency from ``src`` to ``dst`` at ``t`` under the routing in force.

        The routing matrix's column of the pair gives each link direction's share of the
        traffic (ECMP splits it); the expected loss and delay are those shares times each
        direction's loss and delay (exact for one path; for small losses, what a mix of
        equal-cost paths averages to). Utilization is the last step's (queueing delay).
        """
        down_links, down_dev, _ = self._state(t)
        m, reachable = self._route(down_links, down_dev)
        if src == dst:
            return PathState((), 0.0, 0.0)
        try:
            j = self._pairs.index((src, dst))
        except ValueError:
            raise ValueError(
                f"{src} -> {dst}: not among the twin's {MAX_ENDPOINTS} demand endpoints"
            ) from None
        if not reachable[j]:
            return PathState((), 1.0, 0.0, reachable=False)
        col = m.getcol(j).tocoo()
        links: set[str] = set()
        loss = latency = 0.0
        for i, share in zip(col.row, col.data, strict=True):
            lk = self._dirs[int(i)].link
            links.add(lk.id)
            u = min(float(self._last_util[int(i)]), 0.999)
            queue = min(QUEUE_MS * u / (1.0 - u), MAX_QUEUE_MS)
            prop = float(lk.props.get("latency_ms", LINK_LATENCY_MS))
            loss += float(share) * self._loss.get(lk.id, 0.0)
            latency += float(share) * (prop + queue)
        return PathState(tuple(sorted(links)), min(loss, 1.0), latency)

    def metric(self, link: Link) -> int:
        """The IGP metric in force on a link: an operator's change, else a fault's, else the
        topology's."""
        return self.igp_metric.get(link.id, self._fault_metric.get(link.id, link.igp_metric))

    def expected_load(self, t: float) -> tuple[dict[tuple[str, str], float], float]:
        """Utilization per (link id, sending device) at ``t`` without noise, and the demand
        (bps) that has no path: what the what-if gate (``twin/whatif.py``) compares."""
        down_links, down_dev, surges = self._state(t)
        m, reachable = self._route(down_links, down_dev)
        daily = 1 + DAILY_SWING * math.sin(2 * math.pi * ((t % 86400) / 86400) - math.pi / 2)
        demand_bps = self._base * self._total_bps * daily
        if self.extra_demand:
            demand_bps = demand_bps + np.array([self.extra_demand.get(p, 0.0) for p in self._pairs])
        offered = np.asarray(m @ demand_bps).ravel()
        self._add_surges(offered, surges, down_links, t)
        util = {
            (d.link.id, d.src): (
                0.0 if d.link.id in down_links else float(offered[i] / self._caps[i])
            )
            for i, d in enumerate(self._dirs)
        }
        return util, float(demand_bps[~reachable].sum())

    def load_for(
        self, demands: dict[tuple[str, str], float], t: float
    ) -> dict[tuple[str, str], float]:
        """Utilization per (link id, sending device) at ``t`` of the given demands (bps per
        (source, destination) device pair), routed as the twin routes at ``t``: the twin's
        prediction for traffic measured elsewhere (the lab's generator's achieved rates)."""
        down_links, down_dev, _ = self._state(t)
        m, _ = self._route(down_links, down_dev)
        vec = np.array([demands.get(p, 0.0) for p in self._pairs])
        offered = np.asarray(m @ vec).ravel()
        return {
            (d.link.id, d.src): (
                0.0 if d.link.id in down_links else float(offered[i] / self._caps[i])
            )
            for i, d in enumerate(self._dirs)
        }

    def crossing(self, link: str, src: str, t: float) -> list[tuple[str, str, float, float]]:
        """The demands routed across ``link`` leaving ``src`` at ``t``: (source, destination,
        share of the demand on it, the demand's expected bps without noise or growth)."""
        down_links, down_dev, _ = self._state(t)
        m, _ = self._route(down_links, down_dev)
        daily = 1 + DAILY_SWING * math.sin(2 * math.pi * ((t % 86400) / 86400) - math.pi / 2)
        row = m.getrow(self._dir_index[(link, src)])
        return [
            (*self._pairs[j], float(share), float(self._base[j] * self._total_bps * daily))
            for j, share in zip(row.indices, row.data, strict=True)
            if share > 0
        ]

    # ------------------------------------------------------------------ telemetry

    def step(self, t: float) -> list[Event]:
        """The telemetry and events devices would report at simulated time ``t``."""
        t = float(t)
        down_links, down_dev, surges = self._state(t, self._prev_step)
        self._prev_step = t
        m, reachable = self._route(down_links, down_dev)
        daily = 1 + DAILY_SWING * math.sin(2 * math.pi * ((t % 86400) / 86400) - math.pi / 2)
        noise = self._rng.lognormal(0.0, NOISE_SIGMA, len(self._pairs))
        demand_bps = self._base * self._total_bps * daily * noise
        self.unreachable_demand_bps = float(demand_bps[~reachable].sum())
        self.last_demands = [
            (s, d, float(bps))
            for (s, d), bps, ok in zip(self._pairs, demand_bps, reachable, strict=True)
            if ok
        ]
        self._last_hops = (m, demand_bps)
        offered_bps = np.asarray(m @ demand_bps).ravel()
        self._add_surges(offered_bps, surges, down_links, t)
        delivered = np.minimum(offered_bps, self._caps)
        self._last_util = np.where(
            [d.link.id in down_links for d in self._dirs], 0.0, offered_bps / self._caps
        )
        out: list[Event] = []
        silent = down_dev | self.cut_off(down_links, down_dev)
        late = self._late_polls(t) - silent
        devices = self.verdicts.devices
        lone = lone_timeouts(self.active_faults(t), devices, t, self._prev_lone) - silent - late
        self._prev_lone = lone
        lone |= self._mute - silent - late
        plain, overloaded = self.verdicts.step(t, silent, late, lone)
        out.extend(plain)
        out.extend(self._process_events(t, silent))
        out.extend(overloaded)
        unanswered = late | lone  # they push events; their polls bring no metric
        if self.poll_reachability:
            out += [
                Metric(ts=t, device=d, name="reachability", value=0.0 if down else 1.0)
                for d in devices
                if (down := self.verdicts.down(d)) or (d not in unanswered and d not in silent)
            ]
        polled = len(out)
        through: dict[str, float] = {}
        for i, d in enumerate(self._dirs):
            if d.src in silent:
                continue
            lk = d.link
            up = lk.id not in down_links
            rev = self._dir_index[(lk.id, lk.other(d.src))]
            ifname = d.out_if.partition(":")[2]
            labels = {"interface": ifname}
            status = 1 if up else 0
            shut = d.out_if in self._shut
            if shut or d.out_if in self._prev_shut:
                out.extend(self._shut_events(t, d, shut))
            if shut:  # polls skip a shut interface, and its routing daemon says nothing
                self._prev_adjacency[d.out_if] = False
            else:
                out.extend(self._status_events(t, d.src, d.out_if, status))
                out.extend(self._adjacency_events(t, d, up, down_dev))
            loss = self._loss.get(lk.id, 0.0) if up else 0.0
            out_bps = float(delivered[i]) if up else 0.0
            in_bps = float(delivered[rev]) * (1.0 - loss) if up else 0.0
            counted = lk.id not in self._uncounted
            in_errors = float(delivered[rev]) * loss / AVG_PACKET_BITS if counted else 0.0
            discards = float(max(offered_bps[i] - self._caps[i], 0.0)) if up else 0.0
            through[d.src] = through.get(d.src, 0.0) + out_bps / float(self._caps[i])
            if not shut:
                out.append(
                    Metric(ts=t, device=d.src, name="if.oper_status", value=status, labels=labels)
                )
            if self.received_util:  # as the collectors derive it from the received bits
                u = in_bps / float(self._caps[rev])
                out.append(Metric(ts=t, device=d.src, name="if.in_util", value=u, labels=labels))
            out += [
                Metric(
                    ts=t, device=d.src, name="if.out_bps", value=out_bps, unit="bps", labels=labels
                ),
                Metric(
                    ts=t, device=d.src, name="if.in_bps", value=in_bps, unit="bps", labels=labels
                ),
                Metric(
                    ts=t,
                    device=d.src,
                    name="if.out_util",
                    value=out_bps / float(self._caps[i]),
                    unit="ratio",
                    labels=labels,
                ),
                Metric(
                    ts=t,
                    device=d.src,
                    name="if.out_discards",
                    value=discards / AVG_PACKET_BITS,
                    unit="pps",
                    labels=labels,
                ),
                Metric(
                    ts=t,
                    device=d.src,
                    name="if.in_errors",
                    value=in_errors,
                    unit="pps",
                    labels=labels,
                ),
            ]
        if unanswered:  # their polls timed out: what they push (events) arrives, no metric
            out[polled:] = [
                e for e in out[polled:] if not (isinstance(e, Metric) and e.device in unanswered)
            ]
        spikes = {f.target: f.magnitude for f in self.active_faults(t) if f.kind == "cpu_spike"}
        for dev in sorted(d.name for d in self.topo.devices()):
            if dev in silent or dev in unanswered:
                continue
            n_if = max(len(self.topo.interfaces(dev)), 1)
            cpu = 12 + 25 * through.get(dev, 0.0) / n_if + float(self._rng.normal(0, 1.0))
            cpu += spikes.get(dev, 0.0)
            out.append(Metric(ts=t, device=dev, name="cpu.util", value=round(cpu, 2), unit="%"))
        return out

    def _add_surges(
        self, offered_bps: np.ndarray, surges: list[Fault], down_links: frozenset[str], t: float
    ) -> None:
        """Pinned demand surges (:meth:`Fault.surge`: a growth ramp rises linearly over its
        span); a policer on the link caps the total at its share."""
        for f in surges:
            lk = self.topo.link(f.target)
            if lk.id not in down_links:
                i = self._dir_index[(lk.id, f.direction or lk.a)]
                surge = f.surge(t) * lk.capacity_bps
                share = self.policers.get(lk.id)
                if share is not None:
                    surge = min(surge, max(share * lk.capacity_bps - offered_bps[i], 0.0))
                offered_bps[i] += surge

    def _status_events(self, t: float, dev: str, ifid: str, status: int) -> Iterable[Event]:
        prev = self._prev_status.get(ifid, 1)
        self._prev_status[ifid] = status
        if prev != status:
            kind = "link_up" if status else "link_down"
            yield DeviceEvent(ts=t, device=dev, kind=kind, entity=ifid, source="twin")

    def _shut_events(self, t: float, d: _Dir, shut: bool) -> Iterable[Event]:
        """An interface a fault shut down (its ``direction`` end): the agent's linkDown with
        ifAdminStatus down (``admin_down``) when it goes, its linkUp when it comes back."""
        was = d.out_if in self._prev_shut
        if shut and not was:
            self._prev_shut.add(d.out_if)
            yield DeviceEvent(ts=t, device=d.src, kind="admin_down", entity=d.out_if, source="twin")
        elif was and not shut:
            self._prev_shut.discard(d.out_if)
            yield DeviceEvent(ts=t, device=d.src, kind="link_up", entity=d.out_if, source="twin")

    def _adjacency_events(
        self, t: float, d: _Dir, up: bool, down_dev: frozenset[str]
    ) -> Iterable[Event]:
        """The IGP adjacency of ``d``'s sending end, as its routing daemon logs it: Full while
        the link is up and in routing and the far device routes. A device whose routing
        daemon stops logs its own adjacencies down as it goes (FRRouting's ospfd on SIGTERM:
        ``Full -> Deleted (KillNbr)``, what the lab's ``routing_crash`` does) and Full again
        when it is back."""
        far = d.link.other(d.src)
        # an MTU mismatch (the fault's ``direction`` end lowered, default the link's a end)
        # is logged by the end that kept its MTU (its neighbour's hello no longer lists it:
        # Full -> Init); the lowered end, stuck in ExStart, is not (the lab's one-sided form,
        # docs/lab.md "The twin's MTU mismatch")
        mismatched_quiet = d.out_if in self._mtu_low and not (
            d.src in self._unrouted_devs or far in self._unrouted_devs
        )
        full = (
            up
            and (d.link.id not in self._unrouted_links or mismatched_quiet)
            and far not in down_dev
            and far not in self._unrouted_devs
        )
        prev = self._prev_adjacency.get(d.out_if, True)
        self._prev_adjacency[d.out_if] = full
        if prev != full:
            kind = "ospf_up" if full else "ospf_down"
            yield DeviceEvent(ts=t, device=d.src, kind=kind, entity=d.out_if, source="twin")

    def _late_polls(self, t: float) -> frozenset[str]:
        """Devices whose polls time out at ``t``: an overloaded poller's (see the module doc)."""
        out: set[str] = set()
        for f in self.active_faults(t):
            if f.kind == "poller_overload":
                out |= {
                    d.name
                    for d in self.topo.devices()
                    if zlib.crc32(f"{d.name}|{f.start}".encode()) % 1000
                    < POLLER_OVERLOAD_SHARE * 1000
                }
        return frozenset(out)

    def _process_events(self, t: float, silent: frozenset[str]) -> Iterable[Event]:
        """A routing daemon that stops or starts, as the router's own routing manager logs
        it (FRRouting's zebra: its OSPF client disconnected, then its hello)."""
        was, now = self._prev_unrouted, self._unrouted_devs
        self._prev_unrouted = now
        for dev, kind in [
            *((d, "routing_process_down") for d in sorted(now - was)),
            *((d, "routing_process_up") for d in sorted(was - now)),
        ]:
            if dev not in silent:
                yield DeviceEvent(
                    ts=t, device=dev, kind=kind, source="twin", attrs={"protocol": "ospf"}
                )
