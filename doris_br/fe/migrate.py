"""ALTER TABLE ... MODIFY PARTITION p SET ("storage_medium" = ...): the partition moves to BEs of that medium.

Doris records the new medium and its tablet scheduler migrates the replicas later; here the move is part of the
statement, so that a partition's replicas are always on its medium: new tablets on BEs of the medium, each a
copy of an alive replica's files at the visible version (be/clone.py), swapped in by one journal commit while
the caller holds the table's lock (no load publishes meanwhile). A failure leaves the partition as it was.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from doris_br import rpc
from doris_br.errors import DorisError
from doris_br.fe.catalog import Backend
from doris_br.fe.media import MediumRequest, backend_medium, check_table_properties
from doris_br.fe.olap import Partition, Table, Tablet, partitions_of
from doris_br.fe.placement import create_partitions, drop_tablets
from doris_br.schema import PartitionDesc

# Clones running at once: each streams one tablet's files between two BEs.
PARALLEL_CLONES = 4


def chosen_partitions(catalog: Any, table: Table, names: list[str] | None) -> list[Partition]:
    """The named partitions (None: `(*)`, all of them), or Doris's error for the first that does not exist."""
    existing = partitions_of(catalog, table)
    if names is None:
        return existing
    by_name = {p.name: p for p in existing}
    for name in names:
        if name not in by_name:
            raise DorisError(f"Partition[{name}] does not exist in table[{table.name}]")
    return [by_name[n] for n in names]


def requested_medium(properties: dict[str, str]) -> str | None:
    """The medium asked for (None: none); any other property is refused as Doris refuses the ones it does not
    know (Alter.modifyPartitionProperty), since replicas and in-memory flags cannot change here."""
    others = {k: v for k, v in properties.items() if k != "storage_medium"}
    if others:
        raise DorisError("Unknown properties: " + ", ".join(f"{k} = {v}" for k, v in others.items()))
    named = check_table_properties(properties).get("storage_medium")
    return named.upper() if named is not None else None


async def modify_partitions(fe: Any, table: Table, names: list[str] | None,
                            properties: dict[str, str]) -> None:
    """Move the partitions to the medium, one after the other; each is committed as soon as it has moved."""
    medium = requested_medium(properties)
    partitions = chosen_partitions(fe.catalog, table, names)
    if medium is None:
        return
    for partition in partitions:
        moved = await move_partition(fe, table, partition, MediumRequest(medium, strict=True))
        fe.catalog.commit([moved])
        if moved.tablets != partition.tablets:
            await drop_tablets(fe, [partition])


def _on_medium(fe: Any, partition: Partition, medium: str) -> bool:
    return all(backend_medium(fe, r.backend_id) == medium for t in partition.tablets for r in t.replicas)


async def move_partition(fe: Any, table: Table, partition: Partition, request: MediumRequest) -> Partition:
    """The partition as it is once on the medium: the same, or with new tablets holding copies of its data."""
    if _on_medium(fe, partition, request.medium):
        return attrs.evolve(partition, storage_medium=request.medium)
    desc = PartitionDesc(name=partition.name, lower=partition.lower, upper=partition.upper, values=partition.values)
    shaped = attrs.evolve(table, distribution=attrs.evolve(table.distribution, buckets=len(partition.tablets)))
    fresh = (await create_partitions(fe, shaped, [desc], temporary=partition.temporary,
                                     replication=partition.replication_num, medium=request))[0]
    if partition.visible_version >= 2:  # version 1 holds no rows: nothing to copy
        try:
            await _clone_all(fe, partition, fresh)
        except rpc.TaskError as e:
            await drop_tablets(fe, [fresh])
            raise DorisError(f"Failed to move partition[{partition.name}] to {request.medium}: {e.message}") from None
    tablets = tuple(attrs.evolve(new, row_count=old.row_count, data_size=old.data_size)
                    for new, old in zip(fresh.tablets, partition.tablets, strict=True))
    return attrs.evolve(partition, tablets=tablets, storage_medium=fresh.storage_medium)


async def _clone_all(fe: Any, old: Partition, new: Partition) -> None:
    alive = {b.id: b for b in fe.backends.alive()}
    gate = asyncio.Semaphore(PARALLEL_CLONES)

    async def one(target: Backend, tablet: Tablet, source_tablet: Tablet) -> None:
        source = next((alive[r.backend_id] for r in source_tablet.replicas if r.backend_id in alive), None)
        if source is None:
            raise rpc.TaskError("NOT_FOUND", f"no alive replica of tablet {source_tablet.id}")
        task = rpc.CloneTablet(tablet_id=tablet.id, source_tablet_id=source_tablet.id, source_host=source.host,
                               source_port=source.port, version=old.visible_version)
        async with gate:
            await fe.backends.call(target, task, 1800.0)

    results = await asyncio.gather(*(
        one(alive[r.backend_id], t, s)
        for t, s in zip(new.tablets, old.tablets, strict=True) for r in t.replicas
    ), return_exceptions=True)  # all ended before the caller drops what they wrote into
    for r in results:
        if isinstance(r, BaseException):
            raise r
