"""Tablets an INSERT OVERWRITE replaced: dropped a while after the swap, not at once.

A read plans its scan from the catalog and then fetches the tablets from the BEs; one planned just before the
swap still reads the old tablets, so they stay for fe.conf's overwritten_tablets_keep_s. The tablets to drop are
journaled with the swap itself (StaleTablets), so an FE restart in between still drops them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import attrs

from doris_br.clock import now_ms
from doris_br.fe.catalog import register_kind
from doris_br.fe.olap import Partition
from doris_br.fe.placement import drop_tablets

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0


@register_kind
@attrs.frozen
class StaleTablets:
    KIND: ClassVar[str] = "stale_tablets"
    id: int  # the first replaced partition's id: unique, as partition ids are
    partitions: tuple[Partition, ...]
    due_ms: int

    @property
    def key(self) -> str:
        return str(self.id)


def stale(partitions: list[Partition], keep_s: float) -> list[StaleTablets]:
    """The journal object that has these partitions' tablets dropped in `keep_s` (none if no partition)."""
    if not partitions:
        return []
    return [StaleTablets(id=partitions[0].id, partitions=tuple(partitions), due_ms=now_ms() + int(keep_s * 1000))]


async def sweep(fe: Any) -> None:
    """Drop the tablets whose grace is over (best effort, as every drop), then forget them."""
    for entry in fe.catalog.all(StaleTablets):
        if entry.due_ms <= now_ms():
            await drop_tablets(fe, entry.partitions)
            fe.catalog.commit(deletes=[entry])


async def sweep_forever(fe: Any) -> None:
    while True:
        try:
            await sweep(fe)
        except Exception:  # a sweep that failed is tried again at the next one
            log.exception("dropping replaced tablets failed")
        await asyncio.sleep(SWEEP_INTERVAL_S)
