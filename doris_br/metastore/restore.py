"""Check a metadata backup against its manifest and put it back into a stopped FE's data folder.

Nothing is changed until the whole backup has been read and checked: every file listed, present, of the
recorded size and checksum, and valid JSON. The new journal is built beside the old one and swapped in with
one rename; the old one (with its WAL) is kept as `meta.db.before-restore-<time>`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from doris_br.fe.journal import Journal
from doris_br.fe.lock import FeLock
from doris_br.metastore import layout
from doris_br.metastore.backup import LeftOut, fsync_dir, read_objects
from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.layout import Objects
from doris_br.metastore.progress import progress
from doris_br.metastore.scope import OWNED_KINDS, Scope, owned
from doris_br.names import UnsafeName, path_component

FIRST_ID = 10000  # as IdSequence starts
# No file of a backup may be larger: a journal object is kilobytes, a manifest of a million objects ~200 MiB.
MAX_FILE_BYTES = 256 << 20
MAX_DEPTH = 64
JOURNAL_FILES = ("", "-wal", "-shm")
# Fields holding ids the FE's object_id sequence handed out (others, like db_id or backend_id, refer to them).
ID_FIELDS = frozenset({"id", "txn_id", "index_id", "job_id"})

Change = tuple[str, str, str]  # (add | change | remove, kind, key)
SIGNS = {"add": "+", "change": "~", "remove": "-"}


@attrs.frozen
class RestoreResult:
    changes: list[Change]
    target: Objects
    previous: Objects
    kept: list[Path]
    # Secrets the backup left out that the journal did not have either: the operator sets them again.
    missing_secrets: list[LeftOut] = attrs.Factory(list)

    def secret_lines(self) -> list[str]:
        return [_set_again(entry) for entry in self.missing_secrets]

    def lines(self) -> list[str]:
        """One line per change: `+ kind/key (name)`, the name shown where the key is only an id."""
        both = {kind: {**self.previous.get(kind, {}), **self.target.get(kind, {})}
                for kind in set(self.previous) | set(self.target)}
        names = layout.file_names(both)
        out = []
        for op, kind, key in self.changes:
            name = names[(kind, key)].split("/", 1)[1].removesuffix(".json")
            shown = f" ({name})" if name != layout.safe(key) else ""
            out.append(f"{SIGNS[op]} {kind}/{key}{shown}")
        return out


def _set_again(entry: LeftOut) -> str:
    names = ", ".join(entry.properties)
    if entry.kind != "repositories":
        return f"{entry.kind}/{entry.key}: {names} not restored (metadata backups leave secrets out)"
    what = f"repository {entry.name}: {names} not restored (metadata backups leave secrets out)"
    if entry.properties and all(p.lower().startswith(("s3.", "aws_")) for p in entry.properties):
        values = ", ".join(f'"{p}" = "..."' for p in entry.properties)
        return f"{what}; set them with ALTER REPOSITORY {entry.name} PROPERTIES ({values})"
    return f"{what}; DROP REPOSITORY {entry.name} and CREATE it again with them (its snapshots stay where they are)"


def _put_back_secrets(current: Objects, target: Objects, left_out: list[LeftOut]) -> list[LeftOut]:
    """Secrets the backup left out, taken from the journal being replaced where it has the same object (same
    kind, key and location); the entries for which it has not."""
    missing = []
    for entry in left_out:
        body = target.get(entry.kind, {}).get(entry.key)
        if body is None:
            continue
        props = dict(body.get("properties") or {})
        now = current.get(entry.kind, {}).get(entry.key) or {}
        same = now.get("location") == body.get("location")
        known = (now.get("properties") or {}) if same else {}
        lacking = tuple(p for p in entry.properties if p not in props and p not in known)
        props.update({p: known[p] for p in entry.properties if p not in props and p in known})
        target[entry.kind][entry.key] = {**body, "properties": props}
        if lacking:
            missing.append(attrs.evolve(entry, properties=lacking))
    return missing


def left_out_of(manifest: dict[str, Any], path: Path) -> list[LeftOut]:
    entries = manifest.get("secrets_left_out", [])
    try:
        return [LeftOut(str(e["kind"]), str(e["key"]), str(e["name"]), tuple(str(p) for p in e["properties"]))
                for e in entries]
    except (TypeError, KeyError):
        raise MetastoreError(f"{path} is damaged: 'secrets_left_out' is malformed") from None


# ---- reading and checking a backup -------------------------------------------------------------------------


def _check_inside(folder: Path, rel: str) -> tuple[str, ...]:
    """The parts of `rel`, a path the manifest names: a plain relative one, `<kind>/<name>.json` at most."""
    parts = PurePosixPath(rel).parts
    if (not rel or "\\" in rel or "\0" in rel or PurePosixPath(rel).is_absolute()
            or any(part in ("..", ".") for part in parts) or len(parts) > 2 or "//" in rel):
        raise MetastoreError(f"{folder / layout.MANIFEST} lists {rel!r}, a path outside the backup folder: refused")
    return parts


def _read_file(folder: Path, rel: str) -> bytes:
    """A file of the backup, which is hostile input: `rel` must be a plain relative path inside the folder, no
    step of it a symbolic link, the file a regular one of at most MAX_FILE_BYTES."""
    path = folder
    for part in _check_inside(folder, rel):
        path = path / part
        try:
            mode = path.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            raise MetastoreError(f"{rel} is listed in the manifest but missing") from None
        if stat.S_ISLNK(mode):
            raise MetastoreError(f"{rel} is a symbolic link: a backup's files must be inside its folder")
    if not stat.S_ISREG(mode):
        raise MetastoreError(f"{rel} is not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise MetastoreError(f"{rel} is {size} bytes, more than a metadata backup's file may be "
                                 f"({MAX_FILE_BYTES}): refused")
        return f.read(MAX_FILE_BYTES + 1)


def _parse_json(data: bytes, rel: str) -> Any:
    """JSON of at most MAX_DEPTH levels: a journal object has a few, and the restore walks them recursively."""
    too_deep = MetastoreError(f"{rel} is nested more than {MAX_DEPTH} levels deep: not a metadata backup's file")
    try:
        value = json.loads(data)
    except ValueError as e:
        raise MetastoreError(f"{rel} is not valid JSON: {e}") from None
    except RecursionError:
        raise too_deep from None
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH):
        level = [v for c in level if isinstance(c, dict | list) for v in (c.values() if isinstance(c, dict) else c)]
        if not level:
            return value
    raise too_deep


def _bad_manifest(path: Path, what: str) -> MetastoreError:
    return MetastoreError(f"{path} is damaged: {what}")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, checked field by field: a backup folder can hold anything."""
    path = folder / layout.MANIFEST
    if not path.is_file() and not path.is_symlink():
        raise MetastoreError(f"{folder} is not a complete metadata backup: {layout.MANIFEST} is missing")
    manifest = _parse_json(_read_file(folder, layout.MANIFEST), str(path))
    if not isinstance(manifest, dict) or manifest.get("format") != layout.FORMAT:
        raise MetastoreError(f"{path}: not a {layout.FORMAT} manifest")
    for field, kind in (("scope", dict), ("files", dict), ("counts", dict), ("created", str)):
        if not isinstance(manifest.get(field), kind):
            raise _bad_manifest(path, f"'{field}' is missing or malformed")
    scope = manifest["scope"]
    fields = {"system": (), "database": ("database",), "table": ("database", "table")}.get(scope.get("kind"))
    if fields is None or set(scope) != {"kind", *fields} or not all(isinstance(scope[f], str) for f in fields):
        raise _bad_manifest(path, "'scope' is malformed")
    if not all(isinstance(k, str) and type(v) is int for k, v in manifest["counts"].items()):
        raise _bad_manifest(path, "'counts' is malformed")
    for rel, entry in manifest["files"].items():
        _check_inside(folder, rel)
        if not (isinstance(entry, dict) and isinstance(entry.get("kind"), str) and isinstance(entry.get("key"), str)
                and type(entry.get("size")) is int and isinstance(entry.get("sha256"), str)):
            raise _bad_manifest(path, f"bad entry for {rel}")
        if rel.split("/", 1)[0] != entry["kind"] or not rel.endswith(".json"):
            raise _bad_manifest(path, f"{rel} is not a file of kind {entry['kind']}")
    return manifest


def _read_object(folder: Path, rel: str, entry: dict[str, Any]) -> dict[str, Any]:
    data = _read_file(folder, rel)
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise MetastoreError(f"{rel} does not match the manifest (size or checksum differs): it was changed "
                             "or truncated after the backup")
    body = _parse_json(data, rel)
    if not isinstance(body, dict):
        raise MetastoreError(f"{rel} does not hold a JSON object")
    return body


def load_backup(folder: Path, progress_mode: str = "auto") -> tuple[dict[str, Any], Objects]:
    """The manifest and every object, each file checked for presence, size, checksum and JSON."""
    manifest = read_manifest(folder)
    files: dict[str, Any] = manifest["files"]
    objects: Objects = {}
    with progress(len(files), "checking backup", progress_mode) as bar:
        for rel, entry in sorted(files.items()):
            objects.setdefault(entry["kind"], {})[entry["key"]] = _read_object(folder, rel, entry)
            bar.update(1)
    extra = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.json")
                   if p.name != layout.MANIFEST and str(p.relative_to(folder)) not in files)
    if extra:
        raise MetastoreError(f"files not in the manifest: {', '.join(extra[:5])}")
    counts = {kind: len(objs) for kind, objs in objects.items()}
    if counts != {k: v for k, v in manifest["counts"].items() if v}:
        raise MetastoreError(f"{folder / layout.MANIFEST} is damaged: its counts do not match its files")
    return manifest, objects


# ---- what the journal holds afterwards ----------------------------------------------------------------------


def _max_id(value: Any) -> int:
    """The largest sequence-made id anywhere in an object: tablet and replica ids are nested in partitions."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ID_FIELDS and type(v) is int]
        return max([0, *found, *(_max_id(v) for v in value.values() if isinstance(v, dict | list))])
    if isinstance(value, list):
        return max([0, *(_max_id(v) for v in value)])
    return 0


def _sequences(current: Objects, target: Objects) -> dict[str, dict[str, Any]]:
    """Ids never go back: BEs may still hold tablets made after the backup, so an id handed out after the
    restore must be above both the old journal's sequence and every id the restored metadata uses."""
    now, then = current.get("sequences", {}), target.get("sequences", {})
    sequences = {}
    for name in now.keys() | then.keys() | {"object_id"}:
        both = [s for s in (now.get(name), then.get(name)) if s]
        sequences[name] = {"name": name, **(both[-1] if both else {}),
                           "next_id": max([FIRST_ID, *(s.get("next_id", FIRST_ID) for s in both)])}
    highest = max([0, *(_max_id(b) for kind, objs in target.items() if kind != "sequences" for b in objs.values())])
    sequences["object_id"]["next_id"] = max(sequences["object_id"]["next_id"], highest + 1)
    return sequences


def _merge_scope(current: Objects, backup: Objects, scope: Scope) -> Objects:
    """A scoped restore: the scope's objects as backed up, replacing what it holds now; its dependencies
    (backends, users, repositories, ...) added where missing, never rolled back."""
    target = {kind: dict(objs) for kind, objs in current.items()}
    try:
        now = owned(current, scope)
    except MetastoreError:  # the database or table is gone: nothing to replace
        now = {}
    for kind, objs in now.items():
        for key in objs:
            target[kind].pop(key, None)
    for kind, objs in backup.items():
        into = target.setdefault(kind, {})
        if kind in OWNED_KINDS[scope["kind"]]:
            into.update(objs)
        else:
            for key, body in objs.items():
                into.setdefault(key, body)
    _regrant_roles(target, backup, added=set(backup.get("roles", {})) - set(current.get("roles", {})))
    return target


def _regrant_roles(target: Objects, backup: Objects, added: set[str]) -> None:
    """A role the restore brings back (it was dropped since the backup, which took it from its users) is held
    again by the users that held it in the backup and still exist; nothing else of a user changes."""
    for key, backed_up in backup.get("users", {}).items():
        user = target.get("users", {}).get(key)
        regained = [r for r in backed_up.get("roles", []) if r in added and r not in user.get("roles", [])] \
            if user is not None else []
        if regained:
            target["users"][key] = {**user, "roles": [*user.get("roles", []), *regained]}


def _claim(seen: dict[Any, Any], name: Any, body: dict[str, Any], what: str) -> None:
    if name in seen:
        raise MetastoreError(f"restoring would leave two {what} (ids {seen[name]} and {body.get('id')}): it was "
                             "dropped and created again since the backup; restore a backup of its database or "
                             "of the whole system instead")
    seen[name] = body.get("id")


def _check_unique(target: Objects) -> None:
    """Refuse a result the FE could not serve, e.g. a table backup whose database was dropped and created
    again since: the backed-up database record and the new one would share a name."""
    databases: dict[Any, Any] = {}
    for body in target.get("databases", {}).values():
        _claim(databases, body.get("name"), body, f"databases named '{body.get('name')}'")
    relations: dict[Any, Any] = {}
    for kind in ("tables", "views"):
        for body in target.get(kind, {}).values():
            _claim(relations, (body.get("db_id"), body.get("name")), body,
                   f"tables or views named '{body.get('name')}' in one database")


def _check_path_names(objects: Objects) -> None:
    """Names the FE turns into folder names (a repository's, a job's snapshot) must stay one folder name."""
    named = [("repositories", "name", "repository"), ("jobs", "label", "job label"), ("jobs", "repo", "job repository")]
    for kind, field, what in named:
        for key, body in objects.get(kind, {}).items():
            try:
                path_component(str(body.get(field) or "-"))
            except UnsafeName:
                raise MetastoreError(f"{kind}/{key}: the {what} {body.get(field)!r} is not a plain folder "
                                     "name") from None


def target_objects(current: Objects, backup: Objects, scope: Scope) -> Objects:
    """What the journal holds after the restore."""
    _check_path_names(backup)
    if scope["kind"] == "system":
        target = {kind: dict(objs) for kind, objs in backup.items()}
    else:
        target = _merge_scope(current, backup, scope)
    _check_unique(target)
    target["sequences"] = _sequences(current, target)
    return {kind: objs for kind, objs in target.items() if objs}


def diff(current: Objects, target: Objects) -> list[Change]:
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


# ---- writing the journal -----------------------------------------------------------------------------------


def _with_suffixes(path: Path) -> Iterator[tuple[Path, str]]:
    for suffix in JOURNAL_FILES:
        yield Path(f"{path}{suffix}"), suffix


def _kept_name(journal_path: Path) -> Path:
    """meta.db.before-restore-<time>, numbered when two restores fall in one second."""
    stamp = time.strftime("%Y%m%d%H%M%S")
    base = journal_path.with_name(f"{journal_path.name}.before-restore-{stamp}")
    n = 1
    while any(p.exists() for p, _ in _with_suffixes(base)):
        n += 1
        base = journal_path.with_name(f"{journal_path.name}.before-restore-{stamp}-{n}")
    return base


def _keep_old(journal_path: Path) -> list[Path]:
    """Keep the old journal (and its WAL, which may hold committed changes) under a name of its own."""
    base = _kept_name(journal_path)
    kept = []
    for path, suffix in _with_suffixes(journal_path):
        if not path.exists():
            continue
        target = Path(f"{base}{suffix}")
        if suffix:  # a WAL left beside the new journal would be replayed into it
            os.replace(path, target)
        else:  # a link: the old journal stays in place until the new one replaces it in one rename
            os.link(path, target)
        kept.append(target)
    return kept


def write_journal(journal_path: Path, objects: Objects) -> list[Path]:
    """Replace the journal with `objects`; returns where the old journal's files were kept."""
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    staging = journal_path.with_name(journal_path.name + ".restoring")
    for path, _ in _with_suffixes(staging):
        path.unlink(missing_ok=True)
    new = Journal(staging)
    new.commit([(kind, key, body) for kind, objs in objects.items() for key, body in objs.items()])
    new.close()  # the last connection: SQLite checkpoints the WAL into the file and removes it
    kept = _keep_old(journal_path)
    os.replace(staging, journal_path)
    fsync_dir(journal_path.parent)
    return kept


def restore(folder: Path, journal_path: Path, dry_run: bool, progress_mode: str = "auto") -> RestoreResult:
    manifest, backup = load_backup(folder, progress_mode)
    lock = FeLock(journal_path.parent, purpose="restore metadata")
    if not dry_run:  # a dry run only reads, so it may look while the FE runs
        lock.acquire()
    try:
        current = read_objects(journal_path) if journal_path.exists() else {}
        target = target_objects(current, backup, manifest["scope"])
        missing = _put_back_secrets(current, target, left_out_of(manifest, folder / layout.MANIFEST))
        kept = [] if dry_run else write_journal(journal_path, target)
    finally:
        lock.release()
    return RestoreResult(diff(current, target), target, current, kept, missing)
