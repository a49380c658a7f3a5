"""Making partitions real: ids, replicas placed on alive BEs, tablets created there; and dropping them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.errors import DorisError
from doris_br.fe.media import MediumRequest, choose_backends, partition_request, table_request
from doris_br.fe.olap import Partition, Table, ids_per_partition, place_tablets, replicas_by_backend
from doris_br.schema import PartitionDesc

log = logging.getLogger(__name__)

# Up to this many tablets are placed on the event loop (a worker thread's hand-over costs more than the work).
SMALL_TABLETS = 256


async def create_partitions(fe: Any, table: Table, descs: Sequence[PartitionDesc], temporary: bool = False,
                            replication: int | None = None, medium: MediumRequest | None = None,
                            before_create: Callable[[list[Partition]], Awaitable[None]] | None = None,
                            ) -> list[Partition]:
    """Partitions for `descs` (bounds already resolved), their tablets created on the BEs; not yet committed.

    Replicas go to BEs of the medium asked for (default: the table's, fe/media.py); the partitions record the
    medium they got.

    If a BE fails, the tablets already made are dropped again and the statement fails. `before_create` is given
    the partitions before any of their tablets is made (a restore journals them, to drop them after a crash).
    """
    if not descs:
        return []
    replication = replication or table.replication_num
    buckets = table.buckets
    default = medium or table_request(table)
    # Every partition's BEs before any id is taken or tablet made: one without enough fails the statement
    # (choose_backends raises Doris's "Failed to find enough backend ... storage medium: X").
    placements = [choose_backends(fe, partition_request(d, default), replication) for d in descs]
    per = ids_per_partition(buckets, replication)
    first = fe.catalog.allocate_ids(per * len(descs))

    def made() -> list[Partition]:
        partitions = []
        for i, (d, (used, alive)) in enumerate(zip(descs, placements, strict=True)):
            pid = first + i * per
            tablets = place_tablets(alive, buckets, replication, pid + 1, salt=pid)
            partitions.append(Partition(
                id=pid, table_id=table.id, name=d.name, tablets=tuple(tablets), lower=d.lower, upper=d.upper,
                values=d.values, temporary=temporary, visible_version=1, visible_version_time_ms=now_ms(),
                replication_num=replication, storage_medium=used,
            ))
        return partitions

    # A table of 200 partitions of 500 buckets is 100,000 tablet records: made in a worker thread.
    partitions = made() if buckets * len(descs) <= SMALL_TABLETS else await asyncio.to_thread(made)
    if before_create is not None:
        await before_create(partitions)
    backends = {b.id: b for _, alive in placements for b in alive}
    results = await asyncio.gather(*(
        fe.backends.call(backends[b], rpc.CreateTablets(tablet_ids=[t for t, _ in tablets]))
        for b, tablets in replicas_by_backend(partitions).items()
    ), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await drop_tablets(fe, partitions)
        message = errors[0].message if isinstance(errors[0], rpc.TaskError) else str(errors[0])
        raise DorisError(f"Failed to create partition[{descs[0].name}]. Error: {message}")
    return partitions


async def drop_tablets(fe: Any, partitions: Sequence[Partition]) -> None:
    """Remove the partitions' files from the BEs, best effort: the catalog no longer names them anyway, and
    a BE that is down keeps orphans that never become visible."""
    backends = {b.id: b for b in fe.backends.alive()}
    calls = [fe.backends.call(backends[b], rpc.DropTablets(tablet_ids=[t for t, _ in tablets]))
             for b, tablets in replicas_by_backend(partitions).items() if b in backends]
    for r in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(r, BaseException):
            log.warning("dropping tablets failed: %s", r)
