"""Check a metadata backup against its manifest and put it back into a stopped FE's data folder."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from doris_br.fe.journal import Journal
from doris_br.fe.lock import FeLock
from doris_br.metastore import layout
from doris_br.metastore.backup import MetastoreError, Objects, read_objects, select_scope

# What a database or table scope owns: a scoped restore replaces these and only upserts the rest.
OWNED_KINDS = {"database": ("databases", "tables", "partitions", "views", "jobs"),
               "table": ("tables", "partitions")}


def load_backup(folder: Path) -> tuple[dict[str, Any], Objects]:
    """The manifest and every object, each file checked for presence, size, checksum and JSON."""
    manifest_path = folder / layout.MANIFEST
    if not manifest_path.is_file():
        raise MetastoreError(f"{folder} is not a complete metadata backup: {layout.MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except ValueError as e:
        raise MetastoreError(f"{manifest_path} is damaged: {e}") from None
    if manifest.get("format") != layout.FORMAT:
        raise MetastoreError(f"{manifest_path}: unknown format {manifest.get('format')!r}")
    objects: Objects = {}
    for rel, entry in sorted(manifest.get("files", {}).items()):
        path = folder / rel
        if not path.is_file():
            raise MetastoreError(f"{rel} is listed in the manifest but missing")
        data = path.read_bytes()
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise MetastoreError(f"{rel} does not match the manifest (size or checksum differs): it was changed "
                                 "or truncated after the backup")
        try:
            body = json.loads(data)
        except ValueError as e:
            raise MetastoreError(f"{rel} is not valid JSON: {e}") from None
        objects.setdefault(entry["kind"], {})[entry["key"]] = body
    listed = set(manifest.get("files", {}))
    extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.json")
                   if p.name != layout.MANIFEST and str(p.relative_to(folder)) not in listed)
    if extra:
        raise MetastoreError(f"files not in the manifest: {', '.join(extra[:5])}")
    return manifest, objects


def target_objects(current: Objects, backup: Objects, scope: dict[str, str]) -> Objects:
    """What the journal holds after the restore."""
    if scope["kind"] == "system":
        return {kind: dict(objs) for kind, objs in backup.items()}
    target = {kind: dict(objs) for kind, objs in current.items()}
    try:
        owned_now = select_scope(current, scope)
    except MetastoreError:  # the database or table is gone now: nothing to replace
        owned_now = {}
    for kind in OWNED_KINDS[scope["kind"]]:
        for key in owned_now.get(kind, {}):
            target.get(kind, {}).pop(key, None)
    for kind, objs in backup.items():
        target.setdefault(kind, {}).update(objs)
    # Ids handed out after the restore must not collide with restored ones.
    ids = [b["id"] for objs in target.values() for b in objs.values() if isinstance(b.get("id"), int)]
    seq = target.setdefault("sequences", {}).get("object_id", {"name": "object_id", "next_id": 10000})
    seq = {**seq, "next_id": max([seq["next_id"], *(i + 1 for i in ids)])}
    target["sequences"]["object_id"] = seq
    return target


def diff(current: Objects, target: Objects) -> list[tuple[str, str, str]]:
    """(op, kind, key) with op one of add, change, remove."""
    changes = []
    for kind in sorted(set(current) | set(target)):
        now, then = current.get(kind, {}), target.get(kind, {})
        for key in sorted(set(now) | set(then)):
            if key not in now:
                changes.append(("add", kind, key))
            elif key not in then:
                changes.append(("remove", kind, key))
            elif now[key] != then[key]:
                changes.append(("change", kind, key))
    return changes


def describe(kind: str, key: str, objects: Objects) -> str:
    body = objects.get(kind, {}).get(key, {})
    name = body.get("name") or body.get("label") or ""
    return f"{kind}/{key}" + (f" ({name})" if name else "")


def write_journal(journal_path: Path, objects: Objects) -> Path | None:
    """Replace the journal with `objects`; the old one is kept beside it. Returns where it was kept."""
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    staging = journal_path.with_name(journal_path.name + ".restoring")
    for suffix in ("", "-wal", "-shm"):
        Path(str(staging) + suffix).unlink(missing_ok=True)
    new = Journal(staging)
    new.commit([(kind, key, body) for kind, objs in objects.items() for key, body in objs.items()])
    new.close()
    kept = None
    if journal_path.exists():
        kept = journal_path.with_name(f"{journal_path.name}.before-restore-{time.strftime('%Y%m%d%H%M%S')}")
        os.replace(journal_path, kept)
        for suffix in ("-wal", "-shm"):
            old = Path(str(journal_path) + suffix)
            if old.exists():
                os.replace(old, Path(str(kept) + suffix))
    os.replace(staging, journal_path)
    return kept


def restore(folder: Path, journal_path: Path, dry_run: bool) -> tuple[list[tuple[str, str, str]], Objects, Path | None]:
    manifest, backup = load_backup(folder)
    lock = FeLock(journal_path.parent, purpose="restore metadata")
    if not dry_run:  # a dry run only reads, so it may look while the FE runs
        lock.acquire()
    try:
        current = read_objects(journal_path) if journal_path.exists() else {}
        target = target_objects(current, backup, manifest["scope"])
        changes = diff(current, target)
        kept = None if dry_run else write_journal(journal_path, target)
    finally:
        lock.release()
    return changes, {**current, **target}, kept
