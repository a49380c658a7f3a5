"""After a load is published, its tablets' replicas are asked to compact (be/compaction.py).

Only the FE knows which versions are published, so it names them; the BEs decide whether a merge is due and
do it in the background. The request is best effort and never delays or fails the load: a BE that is down
merges the tablet after a later load.
"""

from __future__ import annotations

from typing import Any

from doris_br import rpc
from doris_br.fe.olap import Partition, Table, replicas_by_backend


def auto_compaction(table: Table) -> bool:
    return table.properties.get("disable_auto_compaction", "false").strip().lower() != "true"


def request(fe: Any, table: Table, published: list[Partition]) -> None:
    """Name each replica's tablets of the published partitions, with their new visible version, to its BE."""
    if not auto_compaction(table) or _snapshot_pending(fe, table):
        return
    several = [p for p in published if p.visible_version >= 3]  # a single data version: nothing to merge
    for backend_id, tablets in replicas_by_backend(several).items():
        fe.backends.send_later(backend_id, rpc.CompactTablets([rpc.TabletVersion(t, p.visible_version)
                                                               for t, p in tablets]))


def _snapshot_pending(fe: Any, table: Table) -> bool:
    """A backup that has not taken its snapshot yet asks the BEs for the versions it planned; merged past them,
    those versions' own files are swept after a while, so the table is left alone until the snapshot is taken
    (a later load asks again)."""
    return any(table.id in fe.jobs.locked_tables(job) for job in fe.jobs.unfinished() if job.type == "BACKUP")
