"""The `doris-br metastore backup | restore | list` commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from doris_br.fe.journal import journal_path
from doris_br.metastore.backup import read_objects, write_backup
from doris_br.metastore.errors import MetastoreError
from doris_br.metastore.listing import format_rows, list_backups
from doris_br.metastore.progress import MODES
from doris_br.metastore.restore import restore
from doris_br.metastore.scope import Scope, select_scope

BACKUPS_FOLDER = "meta_backups"


def scope_of(args: argparse.Namespace) -> Scope:
    if args.table:
        db, sep, table = args.table.partition(".")
        if not sep or not db or not table:
            raise MetastoreError(f"--table takes db.tbl, got {args.table!r}")
        return {"kind": "table", "database": db, "table": table}
    if args.database:
        return {"kind": "database", "database": args.database}
    return {"kind": "system"}


def out_dir_of(args: argparse.Namespace) -> Path:
    return Path(args.out).resolve() if args.out else Path(args.data_dir).resolve() / BACKUPS_FOLDER


def run_backup(data_dir: str, scope: Scope, out_dir: Path, progress_mode: str = "auto") -> Path:
    root = Path(data_dir).resolve()
    objects = select_scope(read_objects(journal_path(root)), scope)
    return write_backup(objects, out_dir, scope, str(root), progress_mode)


def cmd_backup(args: argparse.Namespace) -> int:
    path = run_backup(args.data_dir, scope_of(args), out_dir_of(args), args.progress)
    print(f"metadata store backed up to {path}")  # scripts read this line: keep its shape
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    folder = Path(args.backup).resolve()
    target_journal = journal_path(Path(args.data_dir).resolve())
    result = restore(folder, target_journal, args.dry_run, args.progress)
    for line in result.lines():
        print(line)
    for line in result.secret_lines():
        print(line)
    counts = ", ".join(f"{sum(1 for c in result.changes if c[0] == op)} to {op}" for op in ("add", "change", "remove"))
    if args.dry_run:
        print(f"dry run: {counts}; nothing was changed")
        return 0
    print(f"metadata restored from {folder} into {target_journal} ({counts})")
    if result.kept:
        print(f"the previous metadata is kept at {result.kept[0]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    out_dir = out_dir_of(args)
    print(format_rows(list_backups(out_dir), out_dir))
    return 0


def guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Errors end the command with a clear message and exit code 1, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (MetastoreError, RuntimeError, OSError) as e:
            print(f"doris-br metastore: error: {e}", file=sys.stderr)
            return 1
        except Exception as e:  # e.g. a journal object of an unexpected shape: still one line, still exit 1
            print(f"doris-br metastore: error: {type(e).__name__}: {e}", file=sys.stderr)
            return 1

    return run


def _progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", choices=MODES, default="auto",
                   help="progress bar on stderr: auto (on a terminal, for runs over half a second), on, off")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    meta = sub.add_parser("metastore", help="back up, list and restore the FE's metadata")
    verbs = meta.add_subparsers(dest="verb", required=True)

    backup = verbs.add_parser("backup", help="write a metadata backup")
    backup.add_argument("--data-dir", dest="data_dir", default="./doris_br_data")
    scope = backup.add_mutually_exclusive_group()
    scope.add_argument("--database", help="only this database and what it depends on")
    scope.add_argument("--table", help="only this table (db.tbl) and what it depends on")
    backup.add_argument("--out", help=f"where backups go (default: <data-dir>/{BACKUPS_FOLDER})")
    _progress_option(backup)
    backup.set_defaults(func=guarded(cmd_backup))

    rest = verbs.add_parser("restore", help="put a metadata backup back into a stopped FE's data folder")
    rest.add_argument("backup", help="the backup folder")
    rest.add_argument("--data-dir", dest="data_dir", required=True)
    rest.add_argument("--dry-run", dest="dry_run", action="store_true", help="print what would change")
    _progress_option(rest)
    rest.set_defaults(func=guarded(cmd_restore))

    lst = verbs.add_parser("list", help="list metadata backups")
    lst.add_argument("--data-dir", dest="data_dir", default="./doris_br_data")
    lst.add_argument("--out", help=f"the backups folder (default: <data-dir>/{BACKUPS_FOLDER})")
    lst.set_defaults(func=guarded(cmd_list))
