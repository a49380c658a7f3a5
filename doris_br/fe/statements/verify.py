"""VERIFY SNAPSHOT label FROM repo [PROPERTIES (...)]: ours, in Doris's style. Checks a stored snapshot at level
files, meta or data (doris_br.fe.verify) and answers one row per problem, then a summary row."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from doris_br.errors import DorisError
from doris_br.fe.jobs.base import store_of
from doris_br.fe.statements import handles
from doris_br.fe.statements.backup import job_database_name, require_load
from doris_br.fe.statements.repositories import find_repository
from doris_br.fe.statements.results import text_result
from doris_br.fe.verify import VerifyOutcome, VerifyRequest, end_progress, start_progress, verify_snapshot
from doris_br.names import check_label
from doris_br.repository import layout
from doris_br.repository.store import RepositoryStore
from doris_br.repository.verify import Level, named, snapshot_rel, stored_sizes
from doris_br.sql.backup import VerifySnapshot

log = logging.getLogger(__name__)

COLUMNS = ["File", "Problem", "Detail"]
KNOWN_PROPERTIES = ("backup_timestamp", "level", "sample_percent")


def parse_level(properties: dict[str, str]) -> Level:
    text = properties.get("level", "files")
    try:
        return Level[text.upper()]
    except KeyError:
        raise DorisError(f"Invalid verify level: {text}, it should be one of files, meta, data") from None


def parse_sample_percent(properties: dict[str, str], level: Level) -> int:
    text = properties.get("sample_percent")
    if text is None:
        return 100
    try:
        percent = int(text)
    except ValueError:
        percent = 0
    if not 0 < percent <= 100:
        raise DorisError(f"Invalid sample_percent: {text}, it should be an integer in (0, 100]")
    if level is not Level.DATA:
        raise DorisError("sample_percent is only supported when level is data")
    return percent


def check_properties(properties: dict[str, str]) -> tuple[Level, int]:
    unknown = [k for k in properties if k not in KNOWN_PROPERTIES]
    if unknown:
        raise DorisError(f"Unknown verify snapshot properties: [{', '.join(unknown)}]")  # Java's List.toString
    level = parse_level(properties)
    return level, parse_sample_percent(properties, level)


def info_file(store: RepositoryStore, sizes: dict[str, int], label: str, timestamp: str | None) -> tuple[str, str]:
    """(the info file relative to the repository, its timestamp): the one of that timestamp, else the newest. What
    is not there fails as RESTORE fails (RepositoryStore.read_checked's words)."""
    prefix = f"{snapshot_rel(label)}/{layout.PREFIX_INFO}"
    stamps = sorted({layout.split_md5(rel)[0][len(prefix):] for rel in sizes
                     if rel.startswith(prefix) and "/" not in rel[len(prefix):]})
    chosen = timestamp if timestamp is not None else (stamps[-1] if stamps else "")
    matches = named(sizes, label, layout.info_name(chosen)) if chosen in stamps else []
    if len(matches) != 1:
        directory = layout.snapshot_dir(store.root, label)
        raise DorisError(f"Failed to get info of snapshot '{label}' because: Expected one file with path: "
                         f"{directory}/{layout.info_name(chosen)}. get: {len(matches)}. "
                         "Maybe specified wrong backup timestamp")
    return matches[0], chosen


def result_rows(outcome: VerifyOutcome, request: VerifyRequest, timestamp: str) -> list[tuple[str, str, str]]:
    rows = [(f.file, f.problem.value, f.detail) for f in outcome.findings]
    summary = (f"level {request.level.name.lower()}, timestamp {timestamp}: {outcome.files_checked} files and "
               f"{outcome.bytes_checked} bytes checked")
    if request.level is Level.DATA:
        summary += (f", {outcome.files_sampled} of {outcome.files_listed} tablet files read "
                    f"(sample_percent {request.sample_percent})")
    if outcome.findings:
        summary += f", {len(outcome.findings)} problems"
    rows.append((snapshot_rel(request.label), "FAILED" if outcome.findings else "OK", summary))
    return rows


@handles(VerifySnapshot)
async def verify(session: Any, node: VerifySnapshot) -> Any:
    if node.args["repo"] == layout.KEEP_ON_LOCAL:  # as RESTORE: the local repository is not one to read
        raise DorisError("verify from the local repo via SQL call is not supported")
    db_name = job_database_name(session, node.args.get("db"))
    require_load(session, db_name)  # what RESTORE of the snapshot needs
    label = node.name
    check_label(label)
    repo = find_repository(session, node.args["repo"])
    properties = dict(node.args.get("properties") or {})
    level, percent = check_properties(properties)
    store = await asyncio.to_thread(store_of, repo)
    try:
        sizes = await asyncio.to_thread(stored_sizes, store, label)
    except OSError as e:
        log.warning("verify %s: listing failed: %s", label, e)
        raise DorisError(f"Failed to verify snapshot '{label}': the repository could not be listed") from None
    info_rel, timestamp = info_file(store, sizes, label, properties.get("backup_timestamp"))
    request = VerifyRequest(repo, label, info_rel, level, percent)
    progress = start_progress(session.fe, session.user.name, db_name, request, timestamp)
    try:
        outcome = await verify_snapshot(session.fe, store, request, sizes, progress)
    except Exception as e:  # storage failures while reading the meta or info; the reason goes to the log
        end_progress(session.fe, progress, "FAILED")
        log.warning("verify %s: failed: %s", label, e, exc_info=True)
        raise DorisError(f"Failed to verify snapshot '{label}': the repository could not be read") from None
    end_progress(session.fe, progress, "FINISHED")
    return text_result(COLUMNS, result_rows(outcome, request, timestamp), doris_string=True)
