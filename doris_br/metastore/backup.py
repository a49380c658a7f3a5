"""Write a metadata backup: a consistent read of the journal, whole or narrowed to a database or table."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from doris_br.fe.journal import Journal
from doris_br.metastore import layout
from doris_br.metastore.progress import progress

Objects = dict[str, dict[str, dict[str, Any]]]


class MetastoreError(Exception):
    """A metadata backup or restore cannot go on; the message says why."""


def read_objects(journal_path: Path) -> Objects:
    if not journal_path.exists():
        raise MetastoreError(f"no FE metadata at {journal_path}")
    journal = Journal(journal_path, read_only=True)
    try:
        objects: Objects = defaultdict(dict)
        for kind, key, body in journal.rows():
            objects[kind][key] = body
        return dict(objects)
    finally:
        journal.close()


def _find_database(objects: Objects, name: str) -> dict[str, Any]:
    for body in objects.get("databases", {}).values():
        if body.get("name", "").lower() == name.lower():
            return body
    raise MetastoreError(f"Unknown database '{name}'")


def select_scope(objects: Objects, scope: dict[str, str]) -> Objects:
    """The objects of a database or table scope and what they depend on (backends holding their replicas,
    the database record, users granted on it, its jobs and their repositories)."""
    if scope["kind"] == "system":
        return objects
    db = _find_database(objects, scope["database"])
    tables = {k: t for k, t in objects.get("tables", {}).items() if t.get("db_id") == db["id"]}
    views = {k: v for k, v in objects.get("views", {}).items() if v.get("db_id") == db["id"]}
    if scope["kind"] == "table":
        tables = {k: t for k, t in tables.items() if t.get("name", "").lower() == scope["table"].lower()}
        if not tables:
            raise MetastoreError(f"Unknown table '{scope['table']}' in database '{db['name']}'")
        views = {}
    table_ids = {t["id"] for t in tables.values()}
    partitions = {k: p for k, p in objects.get("partitions", {}).items() if p.get("table_id") in table_ids}
    backend_ids = {r["backend_id"] for p in partitions.values() for t in p.get("tablets", [])
                   for r in t.get("replicas", [])}
    selected: Objects = {
        "databases": {str(db["id"]): db},
        "tables": tables,
        "partitions": partitions,
        "views": views,
        "backends": {k: b for k, b in objects.get("backends", {}).items() if b.get("id") in backend_ids},
    }
    if scope["kind"] == "database":
        selected["users"] = {k: u for k, u in objects.get("users", {}).items()
                             if any(g.get("db", "").lower() == db["name"].lower() for g in u.get("grants", []))}
        jobs = {k: j for k, j in objects.get("jobs", {}).items() if j.get("db_id") == db["id"]}
        selected["jobs"] = jobs
        repos = {j.get("repo") for j in jobs.values()}
        selected["repositories"] = {k: r for k, r in objects.get("repositories", {}).items() if r.get("name") in repos}
    return {kind: objs for kind, objs in selected.items() if objs}


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_backup(objects: Objects, out_dir: Path, scope: dict[str, str], source: str, when: str,
                 show_progress: bool = True) -> Path:
    """Write the backup under a temporary name and rename it into place only when it is whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / layout.folder_name(scope, when)
    if final.exists():
        raise MetastoreError(f"{final} already exists")
    tmp = out_dir / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    db_names = {d["id"]: d["name"] for d in objects.get("databases", {}).values()}
    table_names = {t["id"]: (db_names.get(t["db_id"], str(t["db_id"])), t["name"])
                   for t in objects.get("tables", {}).values()}
    files: dict[str, dict[str, Any]] = {}
    total = sum(len(v) for v in objects.values())
    try:
        with progress(total, "backing up metadata", show_progress) as bar:
            for kind in sorted(objects):
                (tmp / kind).mkdir(parents=True, exist_ok=True)
                for key, body in sorted(objects[kind].items()):
                    name = layout.object_file_name(kind, key, body, db_names, table_names)
                    rel = f"{kind}/{name}"
                    if rel in files:  # two objects with one name: keep both, told apart by key
                        rel = f"{kind}/{name[:-5]}.{layout._safe(key)}.json"
                    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
                    _write_file(tmp / rel, data)
                    files[rel] = {"kind": kind, "key": key, "size": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest()}
                    bar.update(1)
        manifest = {
            "format": layout.FORMAT,
            "created": when,
            "scope": scope,
            "source": source,
            "counts": {kind: len(objs) for kind, objs in sorted(objects.items())},
            "files": files,
        }
        _write_file(tmp / layout.MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        os.rename(tmp, final)
        with contextlib.suppress(OSError):  # make the rename itself durable
            fd = os.open(out_dir, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
