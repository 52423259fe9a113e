"""Sending what the twin's devices say over UDP, each device from its own loopback address."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["send_per_device"]


async def send_per_device(
    pending: deque[tuple[str, bytes]],
    collector: tuple[str, int],
    address_of: Callable[[str], str],
    stop: asyncio.Event,
    on_sent: Callable[[], None] | None = None,
) -> None:
    """Drain ``pending`` ((device, datagram) pairs) to ``collector`` until ``stop`` is set and
    nothing is left; one socket per device, bound to ``address_of(device)``."""
    loop = asyncio.get_running_loop()
    transports: dict[str, asyncio.DatagramTransport] = {}
    try:
        while True:
            while pending:
                dev, msg = pending.popleft()
                tr = transports.get(dev)
                if tr is None:
                    tr, _ = await loop.create_datagram_endpoint(
                        asyncio.DatagramProtocol,
                        remote_addr=collector,
                        local_addr=(address_of(dev), 0),
                    )
                    transports[dev] = tr
                tr.sendto(msg)
                if on_sent is not None:
                    on_sent()
            if stop.is_set():
                return
            await asyncio.sleep(0.05)
    finally:
        for tr in transports.values():
            tr.close()
