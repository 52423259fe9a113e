from collections.abc import Callable
from typing import Any

def scan(raw: bytes, /) -> tuple[Any, ...] | None: ...
def records(
    datagrams: list[tuple[bytes, str]],
    received: float,
    cls: type,
    stamp_epoch: Callable[..., float | None],
    stamps: dict[str, float | None] = ...,
    /,
) -> tuple[list[Any], list[int]]: ...
