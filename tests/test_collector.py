"""The FE's garbage collection policy (doris_br/collector.py): no automatic full collection, which would hold every
session for a tenth of a second at 10,000 tablets; full ones once no job has run for a while, or when overdue."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from doris_br import collector


@pytest.fixture
def gc_settings() -> Iterator[list[int]]:
    """The collector's thresholds and freeze undone afterwards; the generations of the collections seen."""
    threshold = gc.get_threshold()
    seen: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_no_full_collection_happens_by_itself(gc_settings: list[int]) -> None:
    collector.hold_full_collections()
    gc_settings.clear()
    for _ in range(200_000):  # many young collections' worth of surviving objects with references
        _keep.append([[]])
    _keep.clear()
    assert gc_settings and 2 not in gc_settings


def _full_collections(monkeypatch: pytest.MonkeyPatch, seen: list[int], busy: bool, overdue_s: float) -> int:
    monkeypatch.setattr(collector, "CHECK_S", 0.01)
    monkeypatch.setattr(collector, "QUIET_S", 0.05)
    monkeypatch.setattr(collector, "FULL_EVERY_S", 0.05)
    monkeypatch.setattr(collector, "FULL_AT_LEAST_S", overdue_s)

    async def run() -> None:
        task = asyncio.create_task(collector.collect_forever(lambda: busy))
        await asyncio.sleep(0.5)
        task.cancel()

    collector.hold_full_collections()
    seen.clear()
    asyncio.run(run())
    return seen.count(2)


def test_full_collections_wait_for_the_jobs(gc_settings: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _full_collections(monkeypatch, gc_settings, busy=True, overdue_s=3600) == 0
    assert _full_collections(monkeypatch, gc_settings, busy=False, overdue_s=3600) >= 2


def test_an_overdue_full_collection_is_made_while_jobs_run(gc_settings: list[int],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert _full_collections(monkeypatch, gc_settings, busy=True, overdue_s=0.1) >= 2


_keep: list[object] = []
