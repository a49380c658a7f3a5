"""DROP SNAPSHOT and snapshot retention: a drop is a journaled intent, carried out to its end even across an FE
crash, and the sweeper drops expired snapshots through the same path.

A drop goes in this order, so that every reader of the repository (ours, a real Doris) sees a snapshot whole or
not at all: the intent is journaled (with the files the dropped backups' infos name); the info files go (the
snapshot is now invisible); then every file of the dropped backups that no remaining backup's info names goes;
the intent is forgotten last. A restarted FE, and every later drop, finishes intents left unfinished.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, ClassVar

import attrs

from doris_br.clock import now_ms, time_text
from doris_br.errors import DorisError
from doris_br.fe.catalog import RETENTION_PROPERTIES, Repository, register_kind
from doris_br.fe.jobs.base import store_of
from doris_br.fe.jobs.manager import SUBMIT_LOCK
from doris_br.repository import layout
from doris_br.repository.info import referenced_files
from doris_br.repository.snapshot_info import SnapshotInfo
from doris_br.repository.store import BadFile, RepositoryStore

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)

KEEP_LAST = "snapshot_keep_last"
TTL = "snapshot_ttl"
RETENTION_KEYS = RETENTION_PROPERTIES
BACKUP_TTL = "ttl"  # BACKUP SNAPSHOT's own property, kept in the snapshot's info
# How often the sweeper looks for expired snapshots: fe.conf's value, which ADMIN SET FRONTEND CONFIG overrides.
INTERVAL_CONFIG = "snapshot_retention_interval_s"
# Debug point for crash tests: while "true", a drop waits after removing the info files (before the data goes).
PAUSE_CONFIG = "debug_pause_snapshot_drop"

_TTL = re.compile(r"^([1-9][0-9]{0,8})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


# ---- retention settings ----------------------------------------------------------------------------------


def ttl_ms(text: str, key: str) -> int:
    """`30m`, `12h`, `7d` in milliseconds; anything else is refused naming the property."""
    match = _TTL.match(text.strip().lower())
    if match is None:
        raise DorisError(f"Invalid {key}: '{text}'. Expected a positive number of minutes, hours or days, "
                         "like 30m, 12h or 7d")
    return int(match[1]) * _UNIT_MS[match[2]]


def keep_last(text: str) -> int:
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit() or int(stripped) < 1 or len(stripped) > 9:
        raise DorisError(f"Invalid {KEEP_LAST}: '{text}'. It must be a whole number of at least 1")
    return int(stripped)


def check_retention(properties: dict[str, str]) -> None:
    """The retention keys of a CREATE / ALTER REPOSITORY; an empty value removes the setting."""
    if properties.get(KEEP_LAST):
        keep_last(properties[KEEP_LAST])
    if properties.get(TTL):
        ttl_ms(properties[TTL], TTL)


@attrs.frozen
class Retention:
    keep_last: int | None = None
    ttl_ms: int | None = None

    @classmethod
    def of(cls, repo: Repository) -> Retention:
        """Journaled values were checked when set; one that no longer parses is treated as unset."""
        props = repo.properties
        try:
            keep = keep_last(props[KEEP_LAST]) if props.get(KEEP_LAST) else None
            ttl = ttl_ms(props[TTL], TTL) if props.get(TTL) else None
        except DorisError:
            return cls()
        return cls(keep, ttl)


@attrs.frozen
class StoredBackup:
    """One whole backup (an info file that reads back) of a repository."""

    label: str
    timestamp: str
    backup_time_ms: int
    own_ttl_ms: int | None  # BACKUP SNAPSHOT's "ttl", kept in its info


def backup_time_ms(info: SnapshotInfo, timestamp: str) -> int:
    if info.backup_time_ms > 0:
        return info.backup_time_ms
    try:
        return int(time.mktime(time.strptime(timestamp, layout.TIMESTAMP_FORMAT)) * 1000)
    except ValueError:
        return 0


def own_ttl(info: SnapshotInfo) -> int | None:
    text = info.ttl
    try:
        return ttl_ms(text, BACKUP_TTL) if text is not None else None
    except DorisError:
        return None


def expiry_ms(backup: StoredBackup, retention: Retention) -> int | None:
    """The backup's own ttl wins over the repository's snapshot_ttl: a backup can be kept longer, or shorter."""
    ttl = backup.own_ttl_ms if backup.own_ttl_ms is not None else retention.ttl_ms
    return backup.backup_time_ms + ttl if ttl is not None and backup.backup_time_ms else None


def expiry_text(info: SnapshotInfo, timestamp: str, repo: Repository) -> str | None:
    """SHOW SNAPSHOT's expire_time of one backup (in its Details), NULL when it never expires."""
    backup = StoredBackup("", timestamp, backup_time_ms(info, timestamp), own_ttl(info))
    return time_text(expiry_ms(backup, Retention.of(repo)))


def expired(backups: list[StoredBackup], retention: Retention, now: int) -> list[StoredBackup]:
    """What retention drops: beyond the newest keep_last, or past its expiry; never the newest backup."""
    ordered = sorted(backups, key=lambda b: (b.backup_time_ms, b.timestamp, b.label), reverse=True)
    chosen = []
    for rank, backup in enumerate(ordered):
        if rank == 0:
            continue
        due = expiry_ms(backup, retention)
        if (retention.keep_last is not None and rank >= retention.keep_last) or (due is not None and due <= now):
            chosen.append(backup)
    return chosen


# ---- the journaled intent ----------------------------------------------------------------------------------


@register_kind
@attrs.frozen
class SnapshotDrop:
    """Dropping backups `timestamps` of `label` in `repo`: journaled before anything is deleted."""

    KIND: ClassVar[str] = "snapshot_drops"
    id: int
    repo: str
    label: str
    timestamps: tuple[str, ...]
    # Files the dropped backups' infos name (relative to the repository's root), read before the infos go.
    files: tuple[str, ...] = ()
    # No backup of the label is left: its whole folder is a candidate for removal.
    whole_label: bool = False
    create_time_ms: int = 0

    @property
    def key(self) -> str:
        return str(self.id)


def snapshot_busy(fe: Frontend, repo: str, label: str, timestamps: tuple[str, ...] | None) -> bool:
    """A job writes the label (a backup, running, pending or cleaning up after a cancel) or reads one of the
    backups (a restore): the drop must wait for it."""
    for job in fe.jobs.all():
        if job.repo != repo or job.label != label:
            continue
        if job.cleanup_pending or (not job.done and (
                job.type == "BACKUP" or timestamps is None or job.timestamp in timestamps)):
            return True
    return False


def dropping(fe: Frontend, repo: str, label: str) -> bool:
    """A drop of the label is journaled and not finished: a backup may not reuse the label yet."""
    return any(d.repo == repo and d.label == label for d in fe.catalog.all(SnapshotDrop))


class SnapshotDropper:
    def __init__(self, fe: Frontend) -> None:
        self.fe = fe
        # One drop at a time: each works out what the others keep from the infos left in the repository.
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()

    # ---- DROP SNAPSHOT ---------------------------------------------------------------------------------------

    async def drop(self, repo: Repository, label: str, timestamp: str | None) -> None:
        """Check, journal, carry out. The checks and the info removal hold the job submission lock, so no
        restore of the backup can start from an info about to disappear."""
        async with self.lock:
            await self.finish_pending()
            store = await asyncio.to_thread(store_of, repo)
            async with SUBMIT_LOCK:
                intent = await self._plan(repo, store, label, timestamp)
                planned = intent
                intent = attrs.evolve(planned, id=self.fe.catalog.commit_numbered(
                    1, lambda i: [attrs.evolve(planned, id=i)]))
                await self._remove_infos(store, intent)
            await self._finish(store, intent)

    async def _plan(self, repo: Repository, store: RepositoryStore, label: str,
                    timestamp: str | None) -> SnapshotDrop:
        # A job first: a running backup's folder may not exist yet, and it is no unknown snapshot.
        if snapshot_busy(self.fe, repo.name, label, None if timestamp is None else (timestamp,)):
            raise DorisError(f"Backup or restore job is running on snapshot {label} of repository {repo.name}. "
                             "Can not drop it")
        if not await asyncio.to_thread(store.has_snapshot, label):
            raise DorisError(f"Failed to get info of snapshot '{label}' because: it does not exist in "
                             f"repository {repo.name}")
        stamps = [ts for ts, _ in await asyncio.to_thread(store.info_timestamps, label)]
        if timestamp is not None and timestamp not in stamps:
            raise DorisError(f"Failed to get info of snapshot '{label}' because: it has no backup at timestamp "
                             f"{timestamp}. Maybe specified wrong backup timestamp")
        chosen = tuple(stamps) if timestamp is None else (timestamp,)
        files = await asyncio.to_thread(self._named_files, store, label, chosen)
        return SnapshotDrop(id=0, repo=repo.name, label=label, timestamps=chosen, files=tuple(sorted(files)),
                            whole_label=set(chosen) >= set(stamps), create_time_ms=now_ms())

    @staticmethod
    def _named_files(store: RepositoryStore, label: str, timestamps: tuple[str, ...]) -> set[str]:
        files: set[str] = set()
        for ts in timestamps:
            try:
                files |= referenced_files(label, store.read_info(label, ts))
            except (BadFile, ValueError):  # an unreadable info names nothing; its folder is still swept
                continue
        return files

    async def _remove_infos(self, store: RepositoryStore, intent: SnapshotDrop) -> None:
        def remove() -> None:
            for ts in intent.timestamps:
                store.remove_info(intent.label, ts)

        await asyncio.to_thread(remove)
        log.warning("dropping snapshot %s@%s of repository %s: info removed", intent.label,
                    ",".join(intent.timestamps), intent.repo)
        while str(self.fe.frontend_config.get(PAUSE_CONFIG, "")).lower() == "true":
            await asyncio.sleep(0.1)

    async def _finish(self, store: RepositoryStore, intent: SnapshotDrop) -> None:
        """Remove what no remaining backup's info names, then forget the intent."""
        await asyncio.to_thread(self._collect, store, intent)
        self.fe.catalog.commit(deletes=[intent])

    @staticmethod
    def _collect(store: RepositoryStore, intent: SnapshotDrop) -> None:
        kept = kept_files(store)
        candidates = set(intent.files)
        if intent.whole_label:
            candidates |= store.files_under(intent.label)
        doomed = sorted(candidates - kept)
        folder = layout.PREFIX_SNAPSHOT + intent.label + "/"
        if intent.whole_label and not any(k.startswith(folder) for k in kept):
            store.delete_snapshot(intent.label)  # one recursive delete, empty folders included
            doomed = [d for d in doomed if not d.startswith(folder)]
        store.remove_files(doomed)

    async def finish_pending(self) -> None:
        """Intents an FE that stopped, or a drop that failed, left unfinished (called holding the lock)."""
        for intent in sorted(self.fe.catalog.all(SnapshotDrop), key=lambda d: d.id):
            repo = self.fe.catalog.get(Repository, intent.repo)
            if repo is None:  # dropped since: its storage is no longer ours to change
                self.fe.catalog.commit(deletes=[intent])
                continue
            if repo.read_only:  # made again as READ ONLY meanwhile: finished once it is writable
                continue
            try:
                store = await asyncio.to_thread(store_of, repo)
                await self._remove_infos(store, intent)
                await self._finish(store, intent)
                log.warning("finished the unfinished drop of snapshot %s in repository %s", intent.label,
                            intent.repo)
            except Exception:  # the storage may be down: the intent stays, tried again later
                log.exception("finishing the drop of snapshot %s in repository %s failed", intent.label,
                              intent.repo)

    # ---- retention -------------------------------------------------------------------------------------------

    def interval_s(self) -> float:
        text = self.fe.frontend_config.get(INTERVAL_CONFIG, self.fe.config.snapshot_retention_interval_s)
        try:
            value = float(text)
        except (TypeError, ValueError):
            return self.fe.config.snapshot_retention_interval_s
        return value if value > 0 else self.fe.config.snapshot_retention_interval_s

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Unfinished drops first (a restart), then a retention round per interval."""
        while True:
            self._wake.clear()
            try:
                async with self.lock:
                    await self.finish_pending()
                await self.sweep()
            except Exception:  # a round that failed is tried again at the next one
                log.exception("snapshot retention round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s())
            except TimeoutError:
                pass

    async def sweep(self) -> None:
        for repo in sorted(self.fe.catalog.all(Repository), key=lambda r: r.id):
            if repo.read_only:
                continue
            try:
                await self.sweep_repository(repo)
            except Exception:  # one unreachable repository must not stop the others' retention
                log.exception("snapshot retention of repository %s failed", repo.name)

    async def sweep_repository(self, repo: Repository) -> None:
        store = await asyncio.to_thread(store_of, repo)
        backups = await asyncio.to_thread(whole_backups, store)
        for backup in expired(backups, Retention.of(repo), now_ms()):
            if snapshot_busy(self.fe, repo.name, backup.label, (backup.timestamp,)):
                continue
            try:
                await self.drop(repo, backup.label, backup.timestamp)
            except DorisError as e:  # gone meanwhile, or a job took it: the next round sees again
                log.warning("retention: snapshot %s@%s of repository %s not dropped: %s", backup.label,
                            backup.timestamp, repo.name, e)
                continue
            log.warning("retention: dropped snapshot %s@%s of repository %s", backup.label, backup.timestamp,
                        repo.name)


def whole_backups(store: RepositoryStore) -> list[StoredBackup]:
    """Every backup of the repository whose info reads back with its checksum."""
    found = []
    for label in store.snapshot_names():
        for ts, checked in store.info_timestamps(label):
            if not checked:
                continue
            try:
                info = store.read_info(label, ts)
            except (BadFile, ValueError, OSError):
                continue
            found.append(StoredBackup(label, ts, backup_time_ms(info, ts), own_ttl(info)))
    return found


def kept_files(store: RepositoryStore) -> set[str]:
    """What the backups left in the repository need: the files each info names, and the top-level files (info,
    __meta) of every label that still has a backup. An info that cannot be read keeps its whole folder."""
    kept: set[str] = set()
    for label in store.snapshot_names():
        stamps = store.info_timestamps(label)
        if not stamps:
            continue
        folder = layout.PREFIX_SNAPSHOT + label
        kept.update(f"{folder}/{name}" for name in store.snapshot_files(label))
        for ts, _ in stamps:
            try:
                kept |= referenced_files(label, store.read_info(label, ts))
            except (BadFile, ValueError):
                kept |= store.files_under(label)
    return kept
