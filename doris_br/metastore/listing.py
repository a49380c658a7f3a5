"""`doris-br metastore list`: the backups in a folder with time, scope, object counts and size."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from doris_br.metastore import layout
from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.restore import read_manifest
from doris_br.metastore.scope import scope_text


def folder_size(folder: Path) -> int:
    """The bytes of the folder's regular files (a symbolic link counts as itself, not what it points to)."""
    return sum(s.st_size for s in (p.lstat() for p in folder.rglob("*")) if stat.S_ISREG(s.st_mode))


def describe(folder: Path) -> dict[str, Any] | None:
    """One backup folder's row, or None when the folder is not a backup (a temporary or foreign one)."""
    match = layout.BACKUP_NAME.match(folder.name)
    return _describe(folder, match["stamp"]) if folder.is_dir() and match is not None else None


def _describe(folder: Path, stamp: str) -> dict[str, Any]:
    """A backup's row; one whose manifest is missing or unreadable is shown as incomplete, not skipped."""
    row: dict[str, Any] = {"name": folder.name, "path": str(folder), "size": folder_size(folder)}
    try:
        manifest = read_manifest(folder)
        row.update(time=manifest["created"], scope=scope_text(manifest["scope"]), counts=manifest["counts"],
                   status="OK")
    except (OSError, MetastoreError):
        row.update(time=stamp, scope="?", counts={}, status="INCOMPLETE: no readable manifest")
    return row


def list_backups(out_dir: Path) -> list[dict[str, Any]]:
    if not out_dir.is_dir():
        return []
    return [row for row in map(describe, sorted(out_dir.iterdir())) if row is not None]


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_rows(rows: list[dict[str, Any]], out_dir: Path) -> str:
    if not rows:
        return f"no metadata backups in {out_dir}"
    width = max(len("NAME"), *(len(r["name"]) for r in rows))
    lines = [f"{'NAME':<{width}}  {'TIME':<19}  {'SCOPE':<28}  {'OBJECTS':>7}  {'SIZE':>10}  STATUS"]
    for r in rows:
        total = sum(r["counts"].values())
        lines.append(f"{r['name']:<{width}}  {r['time']:<19}  {r['scope']:<28}  {total:>7}  "
                     f"{human_size(r['size']):>10}  {r['status']}")
        if r["counts"]:
            lines.append(f"{'':<{width}}  " + ", ".join(f"{k}={v}" for k, v in r["counts"].items()))
    return "\n".join(lines)
