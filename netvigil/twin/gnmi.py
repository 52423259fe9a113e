"""The twin's gNMI endpoints: one gRPC server per simulated device, on OpenConfig paths.

Capabilities, Get, Set and Subscribe (ONCE, POLL, STREAM with SAMPLE / ON_CHANGE /
TARGET_DEFINED) over the device's state in :class:`~netvigil.twin.telemetry.TwinTelemetry`.
A Set changes the twin (shutting an interface takes its link down; an IS-IS metric change
re-routes traffic), so remediation has a real effect. Written on grpcio with the gNMI
protobufs that pygnmi ships, because no third-party gNMI target can be installed here and the
twin must answer real gNMI clients. Paths served (``X`` = an interface name):

- ``/interfaces/interface[name=X]/state/{oper-status,admin-status,high-speed,description}``
- ``/interfaces/interface[name=X]/state/counters/{in-octets,out-octets,out-discards}``
- ``/interfaces/interface[name=X]/config/{enabled,description}`` (Set: ``enabled``)
- ``/system/state/{hostname,boot-time}``, ``/system/cpus/cpu[index=0]/state/total/instant``
- ``/lldp/interfaces/interface[name=X]/neighbors/neighbor[id=N]/state/{system-name,port-id,
  port-id-type}`` (openconfig-lldp: the neighbours over links that are up)
- ``/network-instances/network-instance[name=default]/protocols/protocol[identifier=ISIS]
  [name=0]/isis/interfaces/interface[interface-id=X]/levels/level[level-number=2]/config/
  metric`` (Get and Set)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from pygnmi.spec.v080 import gnmi_pb2 as pb
from pygnmi.spec.v080 import gnmi_pb2_grpc as pb_grpc

from netvigil.twin.network import TwinNetwork
from netvigil.twin.telemetry import TwinTelemetry

__all__ = ["MODELS", "GnmiDevice", "Leaf", "parse_path", "serve_gnmi"]

Elem = tuple[str, tuple[tuple[str, str], ...]]
Path = tuple[Elem, ...]

MODELS = [
    ("openconfig-interfaces", "OpenConfig working group", "3.0.0"),
    ("openconfig-system", "OpenConfig working group", "2.0.0"),
    ("openconfig-network-instance", "OpenConfig working group", "4.0.0"),
    ("openconfig-lldp", "OpenConfig working group", "0.2.1"),
]
ISIS = (
    ("network-instances", ()),
    ("network-instance", (("name", "default"),)),
    ("protocols", ()),
    ("protocol", (("identifier", "ISIS"), ("name", "0"))),
    ("isis", ()),
    ("interfaces", ()),
)
ON_CHANGE_LEAVES = {"oper-status", "admin-status", "enabled", "metric", "description"}


@dataclass(frozen=True)
class Leaf:
    path: Path
    value: Any


def _elem(elem_name: str, /, **keys: str) -> Elem:
    return (elem_name, tuple(sorted(keys.items())))


def parse_path(path: pb.Path) -> Path:
    """A gNMI path (structured elems, or the deprecated string elements) as a tuple."""
    if path.elem:
        return tuple((e.name, tuple(sorted(e.key.items()))) for e in path.elem)
    return tuple((name, ()) for name in path.element)


def to_pb_path(path: Path) -> pb.Path:
    return pb.Path(elem=[pb.PathElem(name=n, key=dict(k)) for n, k in path])


def path_str(path: Path) -> str:
    return "/" + "/".join(n + "".join(f"[{k}={v}]" for k, v in keys) for n, keys in path)


def _matches(request: Path, leaf: Path) -> bool:
    """Whether ``leaf`` lies under ``request`` (names and keys equal, ``*`` matches any)."""
    if len(request) > len(leaf):
        return False
    for (rname, rkeys), (lname, lkeys) in zip(request, leaf, strict=False):
        if rname not in ("*", lname):
            return False
        lk = dict(lkeys)
        for k, v in rkeys:
            if v != "*" and lk.get(k) != v:
                return False
    return True


def _typed(value: Any, encoding: int) -> pb.TypedValue:
    if encoding in (pb.JSON, pb.JSON_IETF):
        raw = json.dumps(value).encode()
        return (
            pb.TypedValue(json_ietf_val=raw)
            if encoding == pb.JSON_IETF
            else pb.TypedValue(json_val=raw)
        )
    if isinstance(value, bool):
        return pb.TypedValue(bool_val=value)
    if isinstance(value, int):
        return pb.TypedValue(uint_val=value) if value >= 0 else pb.TypedValue(int_val=value)
    if isinstance(value, float):
        return pb.TypedValue(double_val=value)
    return pb.TypedValue(string_val=str(value))


def _untyped(value: pb.TypedValue) -> Any:
    kind = value.WhichOneof("value")
    if kind in ("json_val", "json_ietf_val"):
        return json.loads(getattr(value, kind))
    if kind is None:
        raise ValueError("empty value")
    return getattr(value, kind)


class GnmiDevice(pb_grpc.gNMIServicer):  # type: ignore[misc]
    """The gNMI service of one twin device."""

    def __init__(
        self, name: str, telemetry: TwinTelemetry, network: TwinNetwork, tick_s: float = 0.5
    ) -> None:
        self.name = name
        self.telemetry = telemetry
        self.network = network
        self.tick_s = tick_s

    # ---------------------------------------------------------------- state as leaves

    def leaves(self) -> list[Leaf]:
        dev = self.telemetry.devices[self.name]
        out = [
            Leaf((_elem("system"), _elem("state"), _elem("hostname")), dev.name),
            Leaf((_elem("system"), _elem("state"), _elem("boot-time")), int(dev.boot_ts * 1e9)),
            Leaf(
                (
                    _elem("system"),
                    _elem("cpus"),
                    _elem("cpu", index="0"),
                    _elem("state"),
                    _elem("total"),
                    _elem("instant"),
                ),
                round(dev.cpu),
            ),
        ]
        for iface in dev.interfaces.values():
            ifid = f"{self.name}:{iface.name}"
            admin_up = ifid not in self.network.admin_down
            base = (_elem("interfaces"), _elem("interface", name=iface.name))
            st = (*base, _elem("state"))
            cnt = (*st, _elem("counters"))
            out += [
                Leaf((*base, _elem("config"), _elem("enabled")), admin_up),
                Leaf((*base, _elem("config"), _elem("description")), iface.description),
                Leaf((*st, _elem("oper-status")), "UP" if iface.oper_up else "DOWN"),
                Leaf((*st, _elem("admin-status")), "UP" if admin_up else "DOWN"),
                Leaf((*st, _elem("description")), iface.description),
                Leaf((*st, _elem("high-speed")), int(iface.speed_bps / 1e6)),
                Leaf((*st, _elem("last-change")), iface.last_change_ns),
                Leaf((*cnt, _elem("in-octets")), iface.in_octets),
                Leaf((*cnt, _elem("out-octets")), iface.out_octets),
                Leaf((*cnt, _elem("out-discards")), iface.out_discards),
            ]
            iface_obj = self.network.topo.interface(ifid)
            if iface_obj.link:
                lk = self.network.topo.link(iface_obj.link)
                out.append(Leaf(self._isis_path(iface.name), self.network.metric(lk)))
        out += self._lldp_leaves()
        return out

    def _lldp_leaves(self) -> list[Leaf]:
        """openconfig-lldp neighbour state: what LLDP on this device sees right now."""
        out = []
        for n in self.network.lldp_tables(self.telemetry.now).get(self.name, []):
            st = (
                _elem("lldp"),
                _elem("interfaces"),
                _elem("interface", name=n.local_port),
                _elem("neighbors"),
                _elem("neighbor", id=f"{n.remote_system}|{n.remote_port}"),
                _elem("state"),
            )
            out += [
                Leaf((*st, _elem("system-name")), n.remote_system),
                Leaf((*st, _elem("port-id")), n.remote_port),
                Leaf((*st, _elem("port-id-type")), "INTERFACE_NAME"),
            ]
        return out

    @staticmethod
    def _isis_path(ifname: str) -> Path:
        return (
            *ISIS,
            _elem("interface", **{"interface-id": ifname}),
            _elem("levels"),
            _elem("level", **{"level-number": "2"}),
            _elem("config"),
            _elem("metric"),
        )

    def _select(self, prefix: Path, paths: Iterable[Path]) -> list[Leaf]:
        wanted = [prefix + p for p in paths] or [prefix]
        return [leaf for leaf in self.leaves() if any(_matches(w, leaf.path) for w in wanted)]

    def _notification(self, leaves: list[Leaf], encoding: int) -> pb.Notification:
        return pb.Notification(
            timestamp=int(self.telemetry.now * 1e9),
            prefix=pb.Path(target=self.name),
            update=[
                pb.Update(path=to_pb_path(lf.path), val=_typed(lf.value, encoding)) for lf in leaves
            ],
        )

    def _check_reachable(self, context: Any) -> None:
        if not self.telemetry.devices[self.name].reachable:
            raise _Abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is down")

    # ---------------------------------------------------------------- RPCs

    async def Capabilities(
        self, request: pb.CapabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.CapabilityResponse:
        return pb.CapabilityResponse(
            supported_models=[
                pb.ModelData(name=n, organization=o, version=v) for n, o, v in MODELS
            ],
            supported_encodings=[pb.JSON, pb.JSON_IETF, pb.ASCII],
            gNMI_version="0.8.0",
        )

    async def Get(
        self, request: pb.GetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetResponse:
        try:
            self._check_reachable(context)
            prefix = parse_path(request.prefix)
            leaves = self._select(prefix, [parse_path(p) for p in request.path])
            if not leaves:
                raise _Abort(grpc.StatusCode.NOT_FOUND, "no data at the requested paths")
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        return pb.GetResponse(notification=[self._notification(leaves, request.encoding)])

    async def Set(
        self, request: pb.SetRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetResponse:
        results = []
        try:
            self._check_reachable(context)
            prefix = parse_path(request.prefix)
            for path in request.delete:
                p = prefix + parse_path(path)
                self._apply(p, None)
                results.append(pb.UpdateResult(path=to_pb_path(p), op=pb.UpdateResult.DELETE))
            for op, updates in (
                (pb.UpdateResult.REPLACE, request.replace),
                (pb.UpdateResult.UPDATE, request.update),
            ):
                for upd in updates:
                    p = prefix + parse_path(upd.path)
                    try:
                        value = _untyped(upd.val)
                    except (ValueError, json.JSONDecodeError) as exc:
                        raise _Abort(
                            grpc.StatusCode.INVALID_ARGUMENT, f"bad value: {exc}"
                        ) from None
                    self._apply(p, value)
                    results.append(pb.UpdateResult(path=to_pb_path(p), op=op))
        except _Abort as exc:
            await context.abort(exc.code, exc.message)
        return pb.SetResponse(response=results, timestamp=int(self.telemetry.now * 1e9))

    def _apply(self, path: Path, value: Any) -> None:
        """Apply one Set operation to the twin (``value`` None deletes = restores default)."""
        names = [n for n, _ in path]
        keys = [dict(k) for _, k in path]
        if isinstance(value, dict) and len(value) == 1:
            # JSON for the container one level up, e.g. {"enabled": false} at .../config
            ((leaf, value),) = value.items()
            names, keys = [*names, leaf.split(":")[-1]], [*keys, {}]
        if names[:2] == ["interfaces", "interface"] and names[2:] == ["config", "enabled"]:
            ifname = keys[1].get("name", "")
            ifid = f"{self.name}:{ifname}"
            if ifname not in self.telemetry.devices[self.name].interfaces:
                raise _Abort(grpc.StatusCode.NOT_FOUND, f"no interface {ifname!r}")
            if value is None or value is True:
                self.network.admin_down.discard(ifid)
            elif value is False:
                self.network.admin_down.add(ifid)
            else:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "enabled must be a boolean")
            return
        if len(names) >= 7 and tuple(path[:6]) == ISIS and names[-2:] == ["config", "metric"]:
            ifname = keys[6].get("interface-id", "")
            ifid = f"{self.name}:{ifname}"
            if not self.network.topo.has(ifid):
                raise _Abort(grpc.StatusCode.NOT_FOUND, f"no interface {ifname!r}")
            link = self.network.topo.interface(ifid).link
            if link is None:
                raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, f"{ifname} has no IS-IS")
            if value is None:
                self.network.igp_metric.pop(link, None)
            elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16777215:
                self.network.igp_metric[link] = value
            else:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "metric must be 1..16777215")
            return
        raise _Abort(grpc.StatusCode.UNIMPLEMENTED, f"Set is not supported on {path_str(path)}")

    async def Subscribe(
        self,
        request_iterator: AsyncIterator[pb.SubscribeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.SubscribeResponse]:
        first = await anext(request_iterator, None)
        if first is None or not first.HasField("subscribe"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "first message must subscribe")
            return
        sub = first.subscribe
        prefix = parse_path(sub.prefix)
        subs = list(sub.subscription) or [pb.Subscription()]
        enc = sub.encoding
        if not self.telemetry.devices[self.name].reachable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is down")
            return
        paths = [parse_path(s.path) for s in subs]
        initial = self._select(prefix, paths)
        if not sub.updates_only:
            yield pb.SubscribeResponse(update=self._notification(initial, enc))
        yield pb.SubscribeResponse(sync_response=True)
        if sub.mode == pb.SubscriptionList.ONCE:
            return
        if sub.mode == pb.SubscriptionList.POLL:
            async for req in request_iterator:
                if req.HasField("poll"):
                    yield pb.SubscribeResponse(
                        update=self._notification(self._select(prefix, paths), enc)
                    )
                    yield pb.SubscribeResponse(sync_response=True)
            return
        async for note in self._stream(prefix, subs, initial, enc):
            yield pb.SubscribeResponse(update=note)

    async def _stream(
        self, prefix: Path, subs: list[pb.Subscription], initial: list[Leaf], enc: int
    ) -> AsyncIterator[pb.Notification]:
        loop = asyncio.get_running_loop()
        last = {lf.path: lf.value for lf in initial}
        next_due = [loop.time() + _interval(s) for s in subs]
        while True:
            await asyncio.sleep(self.tick_s)
            if not self.telemetry.devices[self.name].reachable:
                continue  # a dead device says nothing
            now = loop.time()
            out: dict[Path, Leaf] = {}
            for i, s in enumerate(subs):
                leaves = self._select(prefix, [parse_path(s.path)])
                sample = s.mode == pb.SAMPLE or (s.mode == pb.TARGET_DEFINED)
                if sample and now >= next_due[i]:
                    next_due[i] = now + _interval(s)
                    for lf in leaves:
                        sampled = s.mode == pb.SAMPLE or lf.path[-1][0] not in ON_CHANGE_LEAVES
                        redundant = s.suppress_redundant and last.get(lf.path) == lf.value
                        if sampled and not redundant:
                            out[lf.path] = lf
                for lf in leaves:
                    on_change = s.mode == pb.ON_CHANGE or (
                        s.mode == pb.TARGET_DEFINED and lf.path[-1][0] in ON_CHANGE_LEAVES
                    )
                    if on_change and last.get(lf.path) != lf.value:
                        out[lf.path] = lf
            for lf in out.values():
                last[lf.path] = lf.value
            if out:
                yield self._notification(list(out.values()), enc)


def _interval(s: pb.Subscription) -> float:
    return s.sample_interval / 1e9 if s.sample_interval else 10.0


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def serve_gnmi(
    telemetry: TwinTelemetry,
    network: TwinNetwork,
    devices: Iterable[str],
    host: str = "127.0.0.1",
    tick_s: float = 0.5,
) -> tuple[list[grpc.aio.Server], dict[str, int]]:
    """Start one insecure gNMI server per device on free ports; returns servers and ports."""
    servers, ports = [], {}
    for name in devices:
        server = grpc.aio.server()
        pb_grpc.add_gNMIServicer_to_server(GnmiDevice(name, telemetry, network, tick_s), server)
        ports[name] = server.add_insecure_port(f"{host}:0")
        await server.start()
        servers.append(server)
    return servers, ports
