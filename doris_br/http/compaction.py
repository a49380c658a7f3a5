"""GET /api/compaction/show?tablet_id=N[&backend_id=B]: a replica's rowsets, in the shape of Doris's BE answer.

SHOW TABLETS' CompactionStatus column links here (with the replica's backend); the FE asks that BE.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

from doris_br import rpc
from doris_br.errors import DorisError
from doris_br.fe.catalog import Backend
from doris_br.fe.olap import find_tablet
from doris_br.fe.privileges import require_global
from doris_br.http.api import error_response
from doris_br.http.auth import AuthFailed, authenticate


def _size(n: int) -> str:
    size, unit = float(n), "B"
    for larger in ("KB", "MB", "GB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.2f} {unit}"


def rowset_line(r: rpc.RowsetInfo) -> str:
    """Doris's form: `[start-end] segments DATA overlap size`; one segment per file here."""
    overlap = "NONOVERLAPPING" if r.start == r.end else "OVERLAPPING"
    return f"[{r.start}-{r.end}] 1 DATA {overlap} {_size(r.bytes)}"


def _replica_backend(fe: Any, tablet_id: int, backend_id: int | None) -> Backend:
    found = find_tablet(fe.catalog, tablet_id)
    if found is None:
        raise DorisError(f"Unknown tablet {tablet_id}", 1146)
    ids = [r.backend_id for r in found[2].replicas]
    if backend_id is not None and backend_id not in ids:
        raise DorisError(f"tablet {tablet_id} has no replica on backend {backend_id}", 1146)
    chosen = [backend_id] if backend_id is not None else [b for b in ids if fe.backends.status_of(b).alive] or ids
    backend = fe.catalog.get(Backend, str(chosen[0]))
    if backend is None:
        raise DorisError(f"backend {chosen[0]} of tablet {tablet_id} was dropped", 1146)
    return backend


async def compaction_show(request: web.Request) -> web.Response:
    fe = request.app["fe"]
    try:
        user, _ = authenticate(request)
        require_global(user, "ADMIN_PRIV")
        try:
            tablet_id = int(request.query["tablet_id"])
            backend_id = int(request.query["backend_id"]) if "backend_id" in request.query else None
        except (KeyError, ValueError):
            raise DorisError("tablet_id (and backend_id, if given) must be numbers") from None
        backend = _replica_backend(fe, tablet_id, backend_id)
        try:
            found = await fe.backends.call(backend, rpc.TabletRowsets(tablet_id), 10.0)
        except rpc.TaskError as e:
            raise DorisError(f"backend {backend.id}: {e.message}") from None
    except (AuthFailed, DorisError) as e:
        return error_response(e)
    assert isinstance(found, rpc.TabletRowsetsResult)
    base_end = found.rowsets[0].end if found.rowsets else 1
    return web.json_response({
        "cumulative policy type": "SIZE_BASED",
        "cumulative point": base_end + 1,
        "rowsets": [rowset_line(r) for r in found.rowsets],
        "missing_rowsets": [],
        "stale_rowsets": [rowset_line(r) for r in found.stale],
        "unpublished_load_files": found.staged,
        "backend_id": backend.id,
    }, dumps=functools.partial(json.dumps, indent=4))
