"""A repository's stored files: __repo_info, snapshots, checksummed info, meta and data files.

Writes never expose a partial file: data goes to a temporary name and is renamed when complete, or, on
object stores where a PUT is atomic, straight to its final name. Every stored file but __repo_info carries
the md5 of its content in its name, checked on every read.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from doris_br import json_text
from doris_br.checksum import copy_md5, copy_small_md5, file_md5, record_md5, recorded_md5
from doris_br.errors import reason
from doris_br.names import is_label
from doris_br.repository import layout
from doris_br.repository.filesystems import RepositoryUnreachable, StorageSpec, open_filesystem
from doris_br.repository.snapshot_info import SnapshotInfo

# Files up to this size are copied within a local repository through memory (RepositoryStore._copy_local).
SMALL_COPY = 1024 * 1024
# Files up to this size go to object stores in one PUT from memory.
IN_MEMORY_PUT = 64 * 1024 * 1024


# Stores kept open per process: opening an S3 client costs a quarter of a second of CPU, paid once per
# repository instead of once per job step. A changed spec (ALTER REPOSITORY) is a new key.
OPEN_STORES_KEPT = 32
_open_stores: dict[tuple[Any, ...], RepositoryStore] = {}
_open_lock = threading.Lock()


def open_store(name: str, spec: StorageSpec) -> RepositoryStore:
    key = (name, spec.kind, spec.location, tuple(sorted(spec.properties.items())))
    with _open_lock:
        store = _open_stores.get(key)
    if store is None:
        store = RepositoryStore(name, spec)  # outside the lock: opening may block on the network
        with _open_lock:
            if len(_open_stores) >= OPEN_STORES_KEPT:
                _open_stores.pop(next(iter(_open_stores)))
            store = _open_stores.setdefault(key, store)
    return store


class BadFile(Exception):
    """A stored file is missing, ambiguous or does not match its checksum (Doris's BAD_FILE)."""


class RepositoryStore:
    def __init__(self, name: str, spec: StorageSpec) -> None:
        self.name = name
        self.spec = spec
        self.fs, location_path = open_filesystem(spec)
        self.root = layout.repo_dir(location_path, name)
        # Object stores have atomic PUTs and no cheap rename.
        self.atomic_put = "s3" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        # A local repository is copied by the kernel (copy_file_range / sendfile), as `cp` does.
        self.local = isinstance(self.fs, LocalFileSystem)

    # ---- the repository itself ---------------------------------------------------------------------------

    def init(self, create_time: str, read_only: bool) -> str:
        """Write __repo_info, or adopt the one already there; return the repository's create time."""
        info_path = f"{self.root}/{layout.REPO_INFO}"
        try:
            if self.fs.exists(info_path):
                info = json.loads(self.fs.cat_file(info_path))
                if info.get("name") != self.name:
                    raise RepositoryUnreachable(
                        f"Invalid repository __repo_info, expected repo '{self.name}', but get name "
                        f"'{info.get('name')}' from {info_path}"
                    )
                create_time = str(info.get("create_time") or create_time)
                if not read_only:
                    self._probe_write()
            elif read_only:
                raise RepositoryUnreachable(f"no repository at {self.spec.location} to read")
            else:
                self.write_plain(info_path, json.dumps({"name": self.name, "create_time": create_time}).encode())
        except RepositoryUnreachable:
            raise
        except Exception as e:  # any storage failure means "cannot reach or write it"
            raise RepositoryUnreachable(reason(e)) from None
        return create_time

    def _probe_write(self) -> None:
        probe = f"{self.root}/__ping_{uuid.uuid4().hex}"
        self.fs.pipe_file(probe, b"ping")
        self.fs.rm_file(probe)

    def ping(self) -> None:
        try:
            if not self.fs.exists(f"{self.root}/{layout.REPO_INFO}"):
                raise RepositoryUnreachable(f"{layout.REPO_INFO} is missing")
        except RepositoryUnreachable:
            raise
        except Exception as e:
            raise RepositoryUnreachable(reason(e)) from None

    # ---- snapshots ---------------------------------------------------------------------------------------

    def _names(self, path: str) -> list[dict[str, Any]]:
        try:
            return self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []

    def snapshot_names(self) -> list[str]:
        """Labels of the __ss_ folders; a folder whose name is no valid label (anyone may put one there) is
        no snapshot of ours and is left out."""
        names = []
        for entry in self._names(self.root):
            base = posixpath.basename(entry["name"].rstrip("/"))
            if entry.get("type") == "directory" and base.startswith(layout.PREFIX_SNAPSHOT):
                label = base[len(layout.PREFIX_SNAPSHOT):]
                if is_label(label):
                    names.append(label)
        return sorted(names)

    def snapshot_files(self, label: str) -> list[str]:
        return sorted(posixpath.basename(e["name"].rstrip("/"))
                      for e in self._names(layout.snapshot_dir(self.root, label)) if e.get("type") == "file")

    def info_timestamps(self, label: str) -> list[tuple[str, bool]]:
        """(timestamp, has a checksum) of each __info_ file of a snapshot."""
        result = []
        for name in self.snapshot_files(label):
            if name.startswith(layout.PREFIX_INFO):
                base, md5 = layout.split_md5(name)
                result.append((base[len(layout.PREFIX_INFO):], md5 is not None))
        return result

    def read_checked(self, directory: str, base_name: str) -> bytes:
        """The one file `<base_name>.<md5>` in directory, verified against its md5."""
        matches = [n for n in (posixpath.basename(e["name"]) for e in self._names(directory))
                   if layout.split_md5(n)[0] == base_name and layout.split_md5(n)[1]]
        if len(matches) != 1:
            raise BadFile(f"Expected one file with path: {directory}/{base_name}. get: {len(matches)}")
        data = self.fs.cat_file(f"{directory}/{matches[0]}")
        expected = layout.split_md5(matches[0])[1]
        actual = hashlib.md5(data).hexdigest()
        if actual != expected:
            raise BadFile(f"md5sum does not equal. local: {actual}, remote: {expected}")
        return data

    def read_info(self, label: str, timestamp: str) -> SnapshotInfo:
        """The snapshot's info; BadFile if it is missing or damaged, BadInfo (a ValueError) if it is not an info."""
        data = self.read_checked(layout.snapshot_dir(self.root, label), layout.info_name(timestamp))
        return SnapshotInfo.from_json(json_text.loads(data))  # 100,000 tablets: megabytes, read in pieces

    def delete_snapshot(self, label: str) -> None:
        path = layout.snapshot_dir(self.root, label)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def has_snapshot(self, label: str) -> bool:
        return self.fs.exists(layout.snapshot_dir(self.root, label))

    def remove_info(self, label: str, timestamp: str) -> None:
        """Every __info_<timestamp> file of the snapshot (with a checksum or not): the one step that makes a
        backup invisible to SHOW SNAPSHOT and RESTORE, ours and Doris's alike."""
        directory = layout.snapshot_dir(self.root, label)
        wanted = layout.info_name(timestamp)
        for name in self.snapshot_files(label):
            if layout.split_md5(name)[0] == wanted:
                self.fs.rm_file(f"{directory}/{name}")

    def files_under(self, label: str) -> set[str]:
        """Every file in the snapshot's folder, as paths relative to the repository's root."""
        directory = layout.snapshot_dir(self.root, label)
        try:
            found = self.fs.find(directory)
        except FileNotFoundError:
            return set()
        prefix = self.root.rstrip("/") + "/"
        paths = (str(f) if self.local else str(f).lstrip("/") for f in found)  # s3fs: `bucket/key`, as root
        return {p[len(prefix):] for p in paths if p.startswith(prefix)}

    def remove_files(self, relative_paths: list[str]) -> None:
        """Files given relative to the repository's root; one already gone is no error (a drop is resumed)."""
        for path in relative_paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{self.root}/{path}")

    # ---- writing -----------------------------------------------------------------------------------------

    def write_plain(self, path: str, data: bytes) -> None:
        if self.atomic_put:
            self.fs.pipe_file(path, data)
            return
        tmp = f"{path}.{uuid.uuid4().hex}.part"
        with self._removed_on_error(tmp):
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)

    def write_checked(self, directory: str, base_name: str, data: bytes) -> str:
        """Store data as `<base_name>.<md5>`; returns the stored name."""
        name = layout.with_md5(base_name, hashlib.md5(data).hexdigest())
        self.write_plain(f"{directory}/{name}", data)
        return name

    def upload(self, local_path: str, directory: str, base_name: str) -> tuple[str, int, str]:
        """Upload a local file as `<base_name>.<md5>`; returns (stored name, size, md5)."""
        if self.atomic_put:
            size = os.path.getsize(local_path)
            if size <= IN_MEMORY_PUT:  # read once: the same bytes are hashed (unless recorded) and sent
                with open(local_path, "rb") as f:
                    data = f.read()
                md5 = recorded_md5(local_path) or hashlib.md5(data).hexdigest()
                name = layout.with_md5(base_name, md5)
                answer = self.fs.pipe_file(f"{directory}/{name}", data,
                                           ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode())
                _check_etag(answer, md5, f"{directory}/{name}")
                return name, size, md5
            recorded = recorded_md5(local_path)
            md5, size = (recorded, size) if recorded else file_md5(local_path)
            name = layout.with_md5(base_name, md5)
            self.fs.put_file(local_path, f"{directory}/{name}")
            return name, size, md5
        tmp = f"{directory}/{base_name}.{uuid.uuid4().hex}.part"
        with self._removed_on_error(tmp):  # a full disk must not keep a partial file per attempt
            md5, size = self._copy_in(local_path, directory, tmp)
            recorded = recorded_md5(local_path)
            if recorded and recorded != md5:  # a damaged replica is refused, not backed up
                raise BadFile(f"md5sum does not equal. local: {md5}, when written: {recorded}, file: {local_path}")
            name = layout.with_md5(base_name, md5)
            if self.local:
                os.replace(tmp, f"{directory}/{name}")
            else:
                self.fs.mv(tmp, f"{directory}/{name}")
        return name, size, md5

    def _copy_in(self, local_path: str, directory: str, tmp: str) -> tuple[str, int]:
        """A BE's file copied to `tmp` in the repository's `directory`; its (md5, size). In a local repository the
        OS copies (fsspec's file objects cost more than a small file's bytes) and the tablet's folder is made when
        its first file finds it missing, not with a stat per file."""
        if not self.local:
            with open(local_path, "rb") as src, self.fs.open(tmp, "wb") as dst:
                return copy_md5(src, dst)
        try:
            return self._copy_local(local_path, tmp)
        except FileNotFoundError:
            if not os.path.exists(local_path):
                raise
        os.makedirs(directory, exist_ok=True)
        return self._copy_local(local_path, tmp)

    @contextlib.contextmanager
    def _removed_on_error(self, tmp: str) -> Iterator[None]:
        """Whatever fails inside (ENOSPC, a broken connection, a bad checksum, a cancel), the temporary file
        goes; removing it is best effort, so the first error is the one reported."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)
            raise

    def download(self, remote_path: str, local_path: str, expected_md5: str, expected_size: int | None) -> None:
        """Copy a stored file to local_path (written under a temporary name), checking size and md5."""
        tmp = f"{local_path}.{uuid.uuid4().hex}.part"
        try:
            try:
                md5, size = self._copy_local(remote_path, tmp) if self.local else self._copy_stream(remote_path, tmp)
            except FileNotFoundError:
                raise BadFile(f"file not found in repository: {remote_path}") from None
            if expected_size is not None and size != expected_size:
                raise BadFile(f"size does not equal. local: {size}, remote: {expected_size}, file: {remote_path}")
            if md5 != expected_md5:
                raise BadFile(f"md5sum does not equal. local: {md5}, remote: {expected_md5}")
            record_md5(tmp, md5)  # a restored tablet file is backed up again without being hashed again
            os.replace(tmp, local_path)
        except BaseException:  # a full BE disk or a broken connection leaves no partial file either
            _remove(tmp)
            raise

    @staticmethod
    def _copy_local(remote_path: str, tmp: str) -> tuple[str, int]:
        """A big file's bytes stay in the kernel, then the copy is checksummed from the page cache: half the time of
        reading, hashing and writing through Python buffers (bench/restore.py). A small one (most files of small
        tablets) is read once, hashed and written with the OS's calls: shutil's checks and file objects cost more
        than its bytes, and at 100,000 tablets they were most of an upload's time."""
        small = copy_small_md5(remote_path, tmp, SMALL_COPY)
        if small is not None:
            return small
        shutil.copyfile(remote_path, tmp)
        return file_md5(tmp)  # the copy's md5 is what the tablet will hold

    def _copy_stream(self, remote_path: str, tmp: str) -> tuple[str, int]:
        with self.fs.open(remote_path, "rb") as src, open(tmp, "wb") as dst:
            return copy_md5(src, dst)


def _check_etag(answer: Any, md5: str, path: str) -> None:
    """A single PUT's ETag is the md5 of the stored bytes, unless the bucket encrypts with KMS or a
    customer key (then the ETag is opaque and Content-MD5 alone vouches for the bytes)."""
    if not isinstance(answer, dict) or "SSECustomerAlgorithm" in answer \
            or str(answer.get("ServerSideEncryption", "")).startswith("aws:kms"):
        return
    etag = str(answer.get("ETag", "")).strip('"')
    if len(etag) == 32 and etag != md5:
        raise BadFile(f"md5sum does not equal. local: {md5}, remote: {etag}, file: {path}")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
