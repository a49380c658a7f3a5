"""Write a metadata backup: a consistent read of the journal, whole or narrowed to a database or table."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from doris_br.fe.catalog import is_secret
from doris_br.fe.journal import Journal
from doris_br.metastore import layout
from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.layout import Objects
from doris_br.metastore.progress import progress
from doris_br.metastore.scope import Scope


@attrs.frozen
class LeftOut:
    """The secret properties a backup left out of one object (by name only: their values are not kept)."""

    kind: str
    key: str
    name: str
    properties: tuple[str, ...]

# How long a backup waits for a free folder name when others of the same scope finish in the same second.
NAME_ATTEMPTS = 5


def read_objects(journal_path: Path) -> Objects:
    """Every journal object by kind and key, read in one transaction: the FE may be running or stopped."""
    if not journal_path.exists():
        raise MetastoreError(f"no FE metadata at {journal_path}")
    try:
        journal = Journal(journal_path, read_only=True)
        try:
            objects: Objects = defaultdict(dict)
            for kind, key, body in journal.rows():
                objects[kind][key] = body
            return dict(objects)
        finally:
            journal.close()
    except sqlite3.Error as e:
        raise MetastoreError(f"cannot read the FE metadata at {journal_path}: {e}") from None


def encode(body: Any) -> bytes:
    """Pretty-printed, with sorted keys, so two backups of the same metadata are byte for byte the same."""
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Make renames in `path` durable (best effort: not every filesystem lets a folder be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def without_secrets(objects: Objects) -> tuple[Objects, list[LeftOut]]:
    """The objects with every secret-looking property (catalog.SECRET_MARKERS: s3.secret_key, AWS_SECRET_KEY,
    password, ...) taken out, and what was taken out of which object. A backup is a folder of plain files that
    gets copied and downloaded; the secrets stay in the FE's journal only."""
    out: Objects = {}
    left_out: list[LeftOut] = []
    for kind, objs in objects.items():
        out[kind] = {}
        for key, body in objs.items():
            props = body.get("properties")
            secret = sorted(k for k in props if is_secret(k)) if isinstance(props, dict) else []
            if secret:
                body = {**body, "properties": {k: v for k, v in props.items() if k not in secret}}
                left_out.append(LeftOut(kind, key, str(body.get("name", key)), tuple(secret)))
            out[kind][key] = body
    return out, left_out


def backup_files(objects: Objects, scope: Scope, source: str, created: str, progress_mode: str = "off",
                 left_out_before: tuple[LeftOut, ...] = ()) -> Iterator[tuple[str, bytes]]:
    """A backup's files, (path, bytes), one per object and the manifest last: what is written to a folder
    and what the REST API zips. Secrets are left out, and the manifest lists what was left out (with
    `left_out_before`, what an earlier writing of these objects left out)."""
    objects, left_out = without_secrets(objects)
    left_out = [*left_out_before, *left_out]
    names = layout.file_names(objects)
    files: dict[str, dict[str, Any]] = {}
    with progress(len(names), "backing up metadata", progress_mode) as bar:
        for kind in sorted(objects):
            for key, body in sorted(objects[kind].items()):
                rel = names[(kind, key)]
                data = encode(body)
                yield rel, data
                files[rel] = {"kind": kind, "key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                bar.update(1)
    yield layout.MANIFEST, encode({
        "format": layout.FORMAT,
        "created": created,
        "scope": scope,
        "source": source,
        "counts": {kind: len(objs) for kind, objs in sorted(objects.items())},
        "files": files,
        "secrets_left_out": [attrs.asdict(entry) for entry in left_out],
    })


def _next_second() -> None:
    time.sleep(1.01 - time.time() % 1)


def _rename_into_place(tmp: Path, out_dir: Path, scope: Scope) -> Path:
    """Give the finished backup its name. Names have a one-second resolution: a second backup of the same
    scope within that second waits for the next one rather than failing or overwriting the first."""
    for _ in range(NAME_ATTEMPTS):
        final = out_dir / layout.folder_name(scope, layout.stamp())
        if not final.exists():
            try:
                os.rename(tmp, final)  # fails on a non-empty target: another backup took the name meanwhile
                fsync_dir(out_dir)
                return final
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        _next_second()
    raise MetastoreError(f"no free backup name in {out_dir} after {NAME_ATTEMPTS} seconds")


def write_backup(objects: Objects, out_dir: Path, scope: Scope, source: str, progress_mode: str = "auto") -> Path:
    """Write the backup under a temporary name and rename it into place only when it is whole."""
    created = time.strftime(layout.TIME_FORMAT)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"{layout.TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    try:
        tmp.mkdir()
        for rel, data in backup_files(objects, scope, source, created, progress_mode):  # the manifest last:
            (tmp / rel).parent.mkdir(exist_ok=True)  # a folder without one is never whole
            write_file(tmp / rel, data)
        fsync_dir(tmp)
        return _rename_into_place(tmp, out_dir, scope)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
