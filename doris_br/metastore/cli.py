"""The `doris-br metastore backup | restore | list` commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from doris_br.fe.frontend import journal_path
from doris_br.metastore import layout
from doris_br.metastore.backup import MetastoreError, read_objects, select_scope, write_backup
from doris_br.metastore.listing import format_rows, list_backups
from doris_br.metastore.restore import describe, restore


def scope_of(args: argparse.Namespace) -> dict[str, str]:
    if args.table:
        db, sep, table = args.table.partition(".")
        if not sep or not db or not table:
            raise MetastoreError(f"--table takes db.tbl, got {args.table!r}")
        return {"kind": "table", "database": db, "table": table}
    if args.database:
        return {"kind": "database", "database": args.database}
    return {"kind": "system"}


def run_backup(data_dir: str, scope: dict[str, str], out: str | None, show_progress: bool = True) -> Path:
    """Shared by the command line and the FE's HTTP service."""
    root = Path(data_dir).resolve()
    objects = select_scope(read_objects(journal_path(root)), scope)
    out_dir = Path(out).resolve() if out else root / "meta_backups"
    return write_backup(objects, out_dir, scope, str(root), layout.stamp(), show_progress)


def cmd_backup(args: argparse.Namespace) -> int:
    path = run_backup(args.data_dir, scope_of(args), args.out, show_progress=sys.stderr.isatty())
    print(f"metadata store backed up to {path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    folder = Path(args.backup).resolve()
    target_journal = journal_path(Path(args.data_dir).resolve())
    changes, objects, kept = restore(folder, target_journal, args.dry_run)
    for op, kind, key in changes:
        print(f"{'+' if op == 'add' else '-' if op == 'remove' else '~'} {describe(kind, key, objects)}")
    summary = {op: sum(1 for c in changes if c[0] == op) for op in ("add", "change", "remove")}
    counts = ", ".join(f"{n} to {op}" for op, n in summary.items())
    if args.dry_run:
        print(f"dry run: {counts}; nothing was changed")
    else:
        print(f"metadata restored from {folder} into {target_journal} ({counts})")
        if kept:
            print(f"the previous metadata is kept at {kept}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    out_dir = Path(args.out).resolve() if args.out else Path(args.data_dir).resolve() / "meta_backups"
    print(format_rows(list_backups(out_dir)))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    meta = sub.add_parser("metastore", help="back up, list and restore the FE's metadata")
    verbs = meta.add_subparsers(dest="verb", required=True)

    backup = verbs.add_parser("backup", help="write a metadata backup")
    backup.add_argument("--data-dir", dest="data_dir", default="./doris_br_data")
    scope = backup.add_mutually_exclusive_group()
    scope.add_argument("--database", help="only this database and what it depends on")
    scope.add_argument("--table", help="only this table (db.tbl) and what it depends on")
    backup.add_argument("--out", help="where backups go (default: <data-dir>/meta_backups)")
    backup.set_defaults(func=guarded(cmd_backup))

    rest = verbs.add_parser("restore", help="put a metadata backup back into a stopped FE's data folder")
    rest.add_argument("backup", help="the backup folder")
    rest.add_argument("--data-dir", dest="data_dir", required=True)
    rest.add_argument("--dry-run", dest="dry_run", action="store_true", help="print what would change")
    rest.set_defaults(func=guarded(cmd_restore))

    lst = verbs.add_parser("list", help="list metadata backups")
    lst.add_argument("--data-dir", dest="data_dir", default="./doris_br_data")
    lst.add_argument("--out", help="the backups folder (default: <data-dir>/meta_backups)")
    lst.set_defaults(func=guarded(cmd_list))


def guarded(fn):  # type: ignore[no-untyped-def]
    """Errors end the command with a clear message and exit code 1, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (MetastoreError, RuntimeError, OSError) as e:
            print(f"doris-br metastore: error: {e}", file=sys.stderr)
            return 1

    return run
