"""The thin I/O side of SNMP polling: credentials, one GET and GETBULK table walks (pysnmp).

Uses pysnmp 7's asyncio high-level API (``get_cmd``, ``bulk_cmd``) with ``lookupMib=False``:
NetVigil needs no MIB files at run time (Debian ships none) and OIDs are data
(:mod:`~netvigil.collectors.snmp.oids`). The walking logic itself is pure
(:class:`~netvigil.collectors.snmp.mib.TableWalk`). One :class:`SnmpEngine` per distinct
credential set: pysnmp's USM keeps users and localized keys per engine, so two targets with
the same user name but different keys must not share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_AUTH_NONE,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES,
    USM_PRIV_CFB256_AES,
    USM_PRIV_NONE,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
)

from netvigil.collectors.snmp.mib import TableWalk, Value, to_python
from netvigil.collectors.snmp.oids import Oid, oid_str
from netvigil.errors import NetVigilError

__all__ = ["AUTH_PROTOCOLS", "PRIV_PROTOCOLS", "Credentials", "SnmpClient", "SnmpError"]

AUTH_PROTOCOLS: dict[str, Any] = {
    "none": USM_AUTH_NONE,
    "MD5": USM_AUTH_HMAC96_MD5,
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA224": USM_AUTH_HMAC128_SHA224,
    "SHA256": USM_AUTH_HMAC192_SHA256,
    "SHA384": USM_AUTH_HMAC256_SHA384,
    "SHA512": USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS: dict[str, Any] = {
    "none": USM_PRIV_NONE,
    "DES": USM_PRIV_CBC56_DES,
    "AES": USM_PRIV_CFB128_AES,
    "AES192": USM_PRIV_CFB192_AES,
    "AES256": USM_PRIV_CFB256_AES,
}


class SnmpError(NetVigilError):
    """An agent did not answer, or answered with an error; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Credentials:
    """v2c (``community``) or v3 USM (``user`` with auth/priv keys and protocols)."""

    version: Literal["2c", "3"] = "2c"
    community: str = "public"
    user: str = ""
    auth_key: str = ""
    priv_key: str = ""
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"

    def auth_data(self) -> CommunityData | UsmUserData:
        if self.version == "2c":
            return CommunityData(self.community, mpModel=1)
        if self.auth_protocol not in AUTH_PROTOCOLS or self.priv_protocol not in PRIV_PROTOCOLS:
            raise SnmpError(
                "config",
                f"unknown v3 protocol {self.auth_protocol}/{self.priv_protocol}; use one of "
                f"{sorted(AUTH_PROTOCOLS)} / {sorted(PRIV_PROTOCOLS)}",
            )
        return UsmUserData(
            self.user,
            authKey=self.auth_key or None,
            privKey=self.priv_key or None,
            authProtocol=AUTH_PROTOCOLS[self.auth_protocol if self.auth_key else "none"],
            privProtocol=PRIV_PROTOCOLS[self.priv_protocol if self.priv_key else "none"],
        )


class SnmpClient:
    """GET and multi-column GETBULK walks against one agent."""

    def __init__(
        self,
        engine: SnmpEngine,
        host: str,
        port: int,
        credentials: Credentials,
        *,
        timeout: float = 2.0,
        retries: int = 1,
        max_repetitions: int = 10,
    ) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.auth = credentials.auth_data()
        self.timeout = timeout
        self.retries = retries
        self.max_repetitions = max_repetitions
        self._transport: UdpTransportTarget | None = None
        self.requests = 0

    async def _target(self) -> UdpTransportTarget:
        if self._transport is None:
            self._transport = await UdpTransportTarget.create(
                (self.host, self.port), timeout=self.timeout, retries=self.retries
            )
        return self._transport

    def _check(self, indication: Any, status: Any, index: Any, what: str) -> None:
        if indication:
            text = str(indication)
            reason = "timeout" if "timeout" in text.lower() else "snmp_error"
            raise SnmpError(reason, f"{what} {self.host}:{self.port}: {text}")
        if status and int(status):
            raise SnmpError(
                "agent_error",
                f"{what} {self.host}:{self.port}: {status.prettyPrint()} at varbind {index}",
            )

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, Value]:
        """GET scalars; absent objects come back as None."""
        self.requests += 1
        indication, status, index, varbinds = await get_cmd(
            self.engine,
            self.auth,
            await self._target(),
            ContextData(),
            *(ObjectType(ObjectIdentity(oid_str(o))) for o in oids),
            lookupMib=False,
        )
        self._check(indication, status, index, "GET")
        return {tuple(int(p) for p in name): to_python(value) for name, value in varbinds}

    async def walk(self, columns: Sequence[Oid], max_rows: int = 10_000) -> TableWalk:
        """Walk table columns with GETBULK, all columns in each request."""
        walk = TableWalk(columns, max_rows=max_rows)
        repetitions = self.max_repetitions
        while not walk.done:
            self.requests += 1
            indication, status, index, varbinds = await bulk_cmd(
                self.engine,
                self.auth,
                await self._target(),
                ContextData(),
                0,
                repetitions,
                *(ObjectType(ObjectIdentity(oid_str(o))) for o in walk.request()),
                lookupMib=False,
            )
            if not indication and status and status.prettyPrint() == "tooBig" and repetitions > 1:
                repetitions = max(1, repetitions // 2)
                continue
            self._check(indication, status, index, "GETBULK")
            walk.feed([(tuple(int(p) for p in n), to_python(v)) for n, v in varbinds])
        return walk
