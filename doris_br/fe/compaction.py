"""After a load is published, its tablets' replicas are asked to compact (be/compaction.py).

Only the FE knows which versions are published, so it names them; the BEs decide whether a merge is due and
do it in the background. The request is best effort and never delays or fails the load: a BE that is down
merges the tablet after a later load.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from doris_br import rpc
from doris_br.fe.catalog import Backend
from doris_br.fe.olap import Partition, Table

log = logging.getLogger(__name__)

# Requests in flight; kept so that they are not garbage-collected before they run.
_REQUESTS: set[asyncio.Task[None]] = set()


def auto_compaction(table: Table) -> bool:
    return table.properties.get("disable_auto_compaction", "false").strip().lower() != "true"


def request(fe: Any, table: Table, published: list[Partition]) -> None:
    """Name each replica's tablets of the published partitions, with their new visible version, to its BE."""
    if not auto_compaction(table):
        return
    by_backend: dict[int, list[rpc.TabletVersion]] = {}
    for p in published:
        if p.visible_version < 3:  # a single data version: nothing to merge
            continue
        for t in p.tablets:
            for r in t.replicas:
                by_backend.setdefault(r.backend_id, []).append(rpc.TabletVersion(t.id, p.visible_version))
    for backend_id, tablets in by_backend.items():
        backend = fe.catalog.get(Backend, str(backend_id))
        if backend is not None and fe.backends.status_of(backend_id).alive:
            task = asyncio.get_running_loop().create_task(_send(fe, backend, tablets))
            _REQUESTS.add(task)
            task.add_done_callback(_REQUESTS.discard)


async def _send(fe: Any, backend: Backend, tablets: list[rpc.TabletVersion]) -> None:
    try:
        await fe.backends.call(backend, rpc.CompactTablets(tablets), 10.0)
    except Exception as e:  # noqa: BLE001 - best effort, see the module's text
        log.info("backend %s was not asked to compact: %s", backend.id, e)
