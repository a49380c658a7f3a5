"""`doris-br metastore list`: the backups in a folder with time, scope, object counts and size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from doris_br.metastore import layout


def list_backups(out_dir: Path) -> list[dict[str, Any]]:
    rows = []
    if not out_dir.is_dir():
        return rows
    for folder in sorted(out_dir.iterdir()):
        match = layout.BACKUP_NAME.match(folder.name)
        if not folder.is_dir() or match is None:
            continue  # temporary (.tmp-...) and foreign folders are not backups
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        row: dict[str, Any] = {"name": folder.name, "path": str(folder), "size": size}
        try:
            manifest = json.loads((folder / layout.MANIFEST).read_bytes())
            scope = manifest["scope"]
            row.update(time=manifest["created"], scope=scope_text(scope), counts=manifest["counts"], status="OK")
        except (OSError, ValueError, KeyError):
            row.update(time=match["stamp"], scope="?", counts={}, status="INCOMPLETE: no readable manifest")
        rows.append(row)
    return rows


def scope_text(scope: dict[str, str]) -> str:
    if scope["kind"] == "database":
        return f"database {scope['database']}"
    if scope["kind"] == "table":
        return f"table {scope['database']}.{scope['table']}"
    return "system"


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAME':<48} {'TIME':<20} {'SCOPE':<28} {'OBJECTS':>8} {'SIZE':>10}  STATUS"]
    for r in rows:
        counts = ", ".join(f"{k}={v}" for k, v in r["counts"].items())
        total = sum(r["counts"].values())
        lines.append(f"{r['name']:<48} {r['time']:<20} {r['scope']:<28} {total:>8} {r['size']:>10}  {r['status']}")
        if counts:
            lines.append(f"{'':<48} {counts}")
    return "\n".join(lines)
