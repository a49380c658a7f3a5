"""VERIFY SNAPSHOT's checks of one stored snapshot, without a cluster: what its info lists, what the storage holds,
whether the meta and info agree, and whether each data file hashes to its recorded md5 and decodes.

Nothing here writes: the repository is only listed and read. A data file is read as a stream in chunks (for its
md5) and as Parquet a row group at a time, so memory stays bounded whatever its size. The FE plans and checks
listings and meta; a BE (or, without one, an FE worker thread) runs verify_file over the data files.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import math
import posixpath
from typing import Any

import attrs
import pyarrow.parquet as pq

from doris_br.checksum import CHUNK
from doris_br.names import UnsafeName, path_component
from doris_br.repository import layout
from doris_br.repository.store import RepositoryStore

log = logging.getLogger(__name__)

PARQUET_SUFFIX = ".parquet"
BATCH_ROWS = 65536


class Problem(enum.Enum):
    MISSING = "MISSING"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    UNREADABLE = "UNREADABLE"
    ROW_COUNT_MISMATCH = "ROW_COUNT_MISMATCH"
    BAD_META = "BAD_META"


class Level(enum.IntEnum):
    """Each level does what the one before does, and more."""

    FILES = 1
    META = 2
    DATA = 3


@attrs.frozen(order=True)
class Finding:
    file: str  # relative to the repository's root
    problem: Problem = attrs.field(order=lambda p: p.value)
    detail: str


@attrs.frozen
class ExpectedFile:
    """One file a snapshot's info lists in a tablet: `rel` is its path relative to the repository's root."""

    rel: str
    size: int  # -1: the info records no size (a snapshot written before sizes were kept)
    md5: str
    tablet_id: int

    @property
    def is_data(self) -> bool:
        return layout.split_md5(posixpath.basename(self.rel))[0].endswith(PARQUET_SUFFIX)


@attrs.frozen
class FileCheck:
    """What reading one data file found: its Parquet row count (-1 when it was not decoded) and any problem."""

    rel: str
    rows: int
    bytes_read: int
    finding: Finding | None = None


@attrs.frozen
class SnapshotFiles:
    """What the info lists: the tablets' files, and the problems met reading the list itself."""

    files: tuple[ExpectedFile, ...]
    findings: tuple[Finding, ...]


def snapshot_rel(label: str) -> str:
    return path_component(layout.PREFIX_SNAPSHOT + label)


def _index_files(info: dict[str, Any], rel_root: str, table_info: Any, part: Any, index: Any) -> list[ExpectedFile]:
    sizes = info.get("file_sizes") or {}
    files = []
    for tablet_id_text, names in (index.get("tablets") or {}).items():
        tablet_dir = layout.tablet_dir(rel_root, info["id"], table_info["id"], part["id"], index["id"],
                                       int(tablet_id_text))
        for name in names:
            size = (sizes.get(str(tablet_id_text)) or {}).get(name, -1)
            files.append(ExpectedFile(f"{tablet_dir}/{path_component(name)}", int(size),
                                      layout.split_md5(name)[1] or "", int(tablet_id_text)))
    return files


def listed_files(info: Any, label: str) -> SnapshotFiles:
    """Every tablet file the info names, by the path a restore would download it from (restore._tablet_plans).
    An info whose shape or names are wrong is one BAD_META, and what could be read of it is still checked."""
    rel_root = snapshot_rel(label)
    files: list[ExpectedFile] = []
    findings: list[Finding] = []
    if not isinstance(info, dict) or not isinstance(info.get("backup_objects"), dict):
        return SnapshotFiles((), (Finding(rel_root, Problem.BAD_META, "the info lists no backup_objects"),))
    for table, table_info in info["backup_objects"].items():
        try:
            for part in (table_info.get("partitions") or {}).values():
                for index in (part.get("indexes") or {}).values():
                    files += _index_files(info, rel_root, table_info, part, index)
        except (UnsafeName, KeyError, TypeError, ValueError, AttributeError):  # the info's word, checked
            findings.append(Finding(rel_root, Problem.BAD_META,
                                    f"the info's entry for table {table} is malformed or names a path outside "
                                    "its tablet"))
    return SnapshotFiles(tuple(files), tuple(findings))


# ---- files: presence and sizes --------------------------------------------------------------------------


def stored_sizes(store: RepositoryStore, label: str) -> dict[str, int]:
    """Every file under the snapshot's folder, relative to the repository's root, with its size: one recursive
    listing (a paginated LIST on object stores) rather than one request per file."""
    root = layout.snapshot_dir(store.root, label)
    try:
        found = store.fs.find(root, detail=True)
    except FileNotFoundError:
        return {}
    prefix = store.root.strip("/") + "/"  # listings name paths without a leading slash on some filesystems
    sizes = {}
    for path, entry in found.items():
        name = path.lstrip("/")
        if entry.get("type", "file") == "file" and name.startswith(prefix):
            sizes[name[len(prefix):]] = int(entry.get("size") or 0)
    return sizes


def check_presence(files: tuple[ExpectedFile, ...], sizes: dict[str, int]) -> list[Finding]:
    findings = []
    for f in files:
        actual = sizes.get(f.rel)
        if actual is None:
            findings.append(Finding(f.rel, Problem.MISSING, "listed in the snapshot's info, not in the repository"))
        elif f.size >= 0 and actual != f.size:
            findings.append(Finding(f.rel, Problem.SIZE_MISMATCH, f"size {actual}, recorded {f.size}"))
    return findings


def named(sizes: dict[str, int], label: str, base_name: str) -> list[str]:
    """The snapshot's top-level files `<base_name>.<md5>` (or without a checksum), relative to the repository."""
    rel_root = snapshot_rel(label)
    return sorted(rel for rel in sizes if posixpath.dirname(rel) == rel_root
                  and layout.split_md5(posixpath.basename(rel))[0] == base_name)


# ---- meta: the meta and info files ----------------------------------------------------------------------


def checksum_finding(rel: str, data: bytes) -> Finding | None:
    recorded = layout.split_md5(posixpath.basename(rel))[1]
    actual = hashlib.md5(data).hexdigest()
    if recorded is not None and actual != recorded:
        return Finding(rel, Problem.CHECKSUM_MISMATCH, f"md5 {actual}, recorded {recorded}")
    return None


def parse_json(rel: str, data: bytes, findings: list[Finding]) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        findings.append(Finding(rel, Problem.BAD_META, "does not parse as JSON"))
        return None


def _meta_tablets(entry: dict[str, Any]) -> dict[str, list[int]]:
    return {p["name"]: [int(t["id"]) for t in p.get("tablets") or ()] for p in entry.get("partitions") or ()}


def _table_consistency(name: str, entry: Any, table_info: Any) -> list[str]:
    """How one table's info disagrees with its meta: ids, partitions, tablets."""
    if not isinstance(entry, dict) or not isinstance(entry.get("table"), dict):
        return [f"table {name} is in the info but not in the meta"]
    problems = []
    if entry["table"].get("id") != table_info.get("id"):
        problems.append(f"table {name} has id {table_info.get('id')} in the info, {entry['table'].get('id')} "
                        "in the meta")
    tablets = _meta_tablets(entry)
    for part_name, part in (table_info.get("partitions") or {}).items():
        if part_name not in tablets:
            problems.append(f"partition {part_name} of table {name} is in the info but not in the meta")
            continue
        for index in (part.get("indexes") or {}).values():
            if sorted(int(i) for i in index.get("tablets_order") or ()) != sorted(tablets[part_name]):
                problems.append(f"partition {part_name} of table {name} lists other tablets in the info than "
                                "in the meta")
    return problems


def consistency(meta: Any, info: Any, label: str) -> list[str]:
    """Whether the info and the meta describe the same snapshot (what a restore relies on)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("tables"), dict):
        return ["the meta holds no tables"]
    if not isinstance(info, dict):
        return ["the info is no JSON object"]
    problems = []
    if info.get("name") != label:
        problems.append(f"the info names snapshot {info.get('name')}, not {label}")
    db_name = (meta.get("database") or {}).get("name") if isinstance(meta.get("database"), dict) else None
    if db_name != info.get("database"):
        problems.append(f"the info names database {info.get('database')}, the meta {db_name}")
    try:
        for name, table_info in (info.get("backup_objects") or {}).items():
            problems += _table_consistency(name, meta["tables"].get(name), table_info)
        views = {v.get("name") for v in (info.get("new_backup_objects") or {}).get("views") or ()}
        missing_views = sorted(str(v) for v in views - set(meta.get("views") or {}))
        problems += [f"view {v} is in the info but not in the meta" for v in missing_views]
    except (KeyError, TypeError, ValueError, AttributeError):
        problems.append("the info's or the meta's objects are malformed")
    return problems


# ---- data: each file read -------------------------------------------------------------------------------


def sample(files: list[ExpectedFile], percent: int) -> list[ExpectedFile]:
    """A deterministic percentage of the files, at least one: the same snapshot and percentage always choose the
    same files (ordered by a hash of their path, so the choice spreads over tables and tablets)."""
    if percent >= 100 or not files:
        return list(files)
    ranked = sorted(files, key=lambda f: hashlib.md5(f.rel.encode()).hexdigest())
    return ranked[:max(1, math.ceil(len(files) * percent / 100))]


def _streamed_md5(store: RepositoryStore, path: str) -> tuple[str, int]:
    digest = hashlib.md5()
    size = 0
    with store.fs.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _decoded_rows(store: RepositoryStore, path: str) -> int:
    """Every row group decoded, one batch at a time; the rows counted."""
    rows = 0
    with store.fs.open(path, "rb") as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
            rows += batch.num_rows
    return rows


def safe_path(store: RepositoryStore, rel: str) -> str:
    """A relative path from the FE, as this process's path in the repository: each part one plain name."""
    return "/".join([store.root, *(path_component(part) for part in rel.split("/"))])


def verify_file(store: RepositoryStore, f: ExpectedFile) -> FileCheck:
    """md5 (streamed), then, for a Parquet file whose md5 is right, a full decode and its row count."""
    try:
        path = safe_path(store, f.rel)
    except UnsafeName:
        return FileCheck(f.rel, -1, 0, Finding(f.rel, Problem.BAD_META, "the path names something outside the "
                                                                        "repository"))
    try:
        md5, size = _streamed_md5(store, path)
    except FileNotFoundError:
        return FileCheck(f.rel, -1, 0, Finding(f.rel, Problem.MISSING, "not in the repository"))
    except OSError as e:
        log.warning("verify: reading %s failed: %s", path, e)
        return FileCheck(f.rel, -1, 0, Finding(f.rel, Problem.UNREADABLE, "the repository refused to read it"))
    if f.md5 and md5 != f.md5:
        return FileCheck(f.rel, -1, size, Finding(f.rel, Problem.CHECKSUM_MISMATCH, f"md5 {md5}, recorded {f.md5}"))
    if not f.is_data:
        return FileCheck(f.rel, -1, size)
    try:
        rows = _decoded_rows(store, path)
    except Exception as e:  # any decoder failure is the file's problem; the reason goes to the log only
        log.warning("verify: decoding %s failed: %s", path, e)
        return FileCheck(f.rel, -1, size, Finding(f.rel, Problem.UNREADABLE, "does not decode as Parquet"))
    return FileCheck(f.rel, rows, size)


def tablet_rows(meta: Any) -> dict[int, tuple[int, bool]]:
    """Per backed-up tablet id: the row count the meta records, and whether deletes may have removed rows from
    its files since (a compaction applies delete predicates, so the files then hold at most that many)."""
    found: dict[int, tuple[int, bool]] = {}
    if not isinstance(meta, dict) or not isinstance(meta.get("tables"), dict):
        return found
    try:
        for entry in meta["tables"].values():
            for part in entry.get("partitions") or ():
                for t in part.get("tablets") or ():
                    found[int(t["id"])] = (int(t.get("row_count", 0)), bool(part.get("has_delete_predicates")))
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}
    return found


def check_row_counts(files: list[ExpectedFile], checks: dict[str, FileCheck], recorded: dict[int, tuple[int, bool]],
                     label: str) -> list[Finding]:
    """Per tablet whose every data file was read and decoded: its rows against the meta's count."""
    by_tablet: dict[int, list[ExpectedFile]] = {}
    for f in files:
        if f.is_data:
            by_tablet.setdefault(f.tablet_id, []).append(f)
    findings = []
    for tablet_id, tablet_files in sorted(by_tablet.items()):
        results = [checks.get(f.rel) for f in tablet_files]
        if tablet_id not in recorded or any(r is None or r.rows < 0 for r in results):
            continue
        rows = sum(r.rows for r in results if r is not None)
        expected, may_be_fewer = recorded[tablet_id]
        if rows == expected or (may_be_fewer and rows < expected):
            continue
        rel = posixpath.dirname(tablet_files[0].rel)
        findings.append(Finding(rel, Problem.ROW_COUNT_MISMATCH,
                                f"tablet {tablet_id}: {rows} rows in its files, {expected} in the meta"))
    return findings
