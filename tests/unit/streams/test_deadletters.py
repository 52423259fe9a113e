"""The dead-letter store is bounded: letters keep at most max_raw raw bytes, the file rotates at
max_bytes and keeps `keep` old files, and every letter written is either on disk or counted as
discarded (exported as metrics)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from netvigil.events import DeadLetter, decode_as
from netvigil.streams.deadletters import DeadLetterFile
from netvigil.streams.meters import EdgeMeters


def _letters(path: Path) -> list[DeadLetter]:
    out = []
    for p in sorted(path.parent.glob(path.name + "*")):
        for line in p.read_bytes().splitlines():
            letter = decode_as(line, DeadLetter)
            assert isinstance(letter, DeadLetter)
            out.append(letter)
    return out


def test_the_store_rotates_at_its_cap_and_counts_what_it_deleted(tmp_path: Path) -> None:
    path = tmp_path / "dead-letters.jsonl"
    meters = EdgeMeters()
    store = DeadLetterFile(path, max_bytes=256 << 10, keep=2, max_raw=4096, meters=meters)

    async def flood() -> None:
        for i in range(2000):  # ~10 MiB of letters, one of them 1 MiB
            raw = b"\xab" * (1 << 20) if i == 7 else i.to_bytes(4, "big") * 1000
            await store.process(DeadLetter(ts=i, source="syslog", reason="bad", raw=raw), None)
        store.close()

    asyncio.run(flood())
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [
        "dead-letters.jsonl", "dead-letters.jsonl.1", "dead-letters.jsonl.2"
    ]  # fmt: skip
    assert all(f.stat().st_size <= 256 << 10 for f in files)
    kept = _letters(path)
    assert store.count == 2000
    assert len(kept) + store.discarded == 2000  # nothing left without a count
    assert store.rotations > 2 and all(len(d.raw) <= 4096 for d in kept)
    assert store.truncated == 1  # the 1 MiB one; the others were exactly 4,000 bytes
    values = meters.values()
    assert values[("netvigil_dead_letters_discarded", ())] == store.discarded
    assert values[("netvigil_dead_letter_store_rotations", ())] == store.rotations
    assert values[("netvigil_dead_letter_store_bytes", ())] == sum(f.stat().st_size for f in files)
    assert values[("netvigil_dead_letters_truncated", ("store",))] == 1


def test_a_cut_letter_says_how_long_it_was(tmp_path: Path) -> None:
    store = DeadLetterFile(tmp_path / "d.jsonl", max_raw=10, meters=EdgeMeters())
    asyncio.run(store.process(DeadLetter(ts=0, source="x", reason="why", raw=b"y" * 50), None))
    store.close()
    (letter,) = _letters(tmp_path / "d.jsonl")
    assert (letter.raw, letter.reason) == (b"y" * 10, "why [raw: first 10 of 50 bytes]")


def test_a_restart_continues_the_size_of_the_file_it_finds(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"x" * 900 + b"\n")  # left by an earlier run
    store = DeadLetterFile(path, max_bytes=1000, keep=1, meters=EdgeMeters())
    asyncio.run(store.process(DeadLetter(ts=0, source="x", reason="r", raw=b"z" * 200), None))
    store.close()
    assert store.rotations == 1 and (tmp_path / "d.jsonl.1").read_bytes() == b"x" * 900 + b"\n"
