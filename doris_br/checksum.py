"""md5 of files, and the md5 a BE records on a version file's inode when it writes it.

Version files never change once written, so their md5 is computed once, from the bytes in memory, and kept
in an extended attribute. Snapshots are hard links to the same inodes, so an upload finds it there and
does not read the file twice; the object store then checks the bytes it received against it (Content-MD5,
ETag). Filesystems without user xattrs simply have no recorded md5, and uploads compute it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import Any

CHUNK = 4 * 1024 * 1024
MD5_XATTR = "user.doris_br.md5"


def file_md5(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(md5 hex, size) of a file, read in chunks."""
    digest = hashlib.md5()
    size = 0
    with open(path, "rb") as f:
        for chunk in _chunks(f):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def copy_md5(src: Any, dst: Any) -> tuple[str, int]:
    """Copy one open file into another in chunks; (md5 hex, size) of what was copied."""
    digest = hashlib.md5()
    size = 0
    for chunk in _chunks(src):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def copy_small_md5(src: str, dst: str, limit: int) -> tuple[str, int] | None:
    """Copy a file of at most `limit` bytes to a new file `dst` (which must not exist) through memory, with the
    OS's own calls; (md5 hex, size) of what was written, or None (nothing written) if `src` is bigger."""
    fd = os.open(src, os.O_RDONLY)
    try:
        if os.fstat(fd).st_size > limit:
            return None
        pieces = []
        while piece := os.read(fd, limit + 1):
            pieces.append(piece)
    finally:
        os.close(fd)
    data = b"".join(pieces)
    write_file(dst, data, exclusive=True)
    return hashlib.md5(data).hexdigest(), len(data)


def write_file(path: str, data: bytes, exclusive: bool = False) -> None:
    """The bytes as the file's whole content, with the OS's calls (no file object); `exclusive`: the file must not
    exist yet."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _chunks(f: Any) -> Iterator[bytes]:
    """The file's bytes, CHUNK at a time. A read of CHUNK bytes allocates CHUNK bytes first (and maps and unmaps
    them): for a file of a few hundred bytes, as most of a small tablet's are, that was most of its upload's time, so
    a file known to be smaller is read in one piece of its size."""
    try:
        size = os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a local file: its size is unknown here
        size = CHUNK
    want = min(CHUNK, size + 1)  # one byte more, to see the end in the same read
    while chunk := f.read(want):
        yield chunk


def record_md5(path: str | os.PathLike[str], md5: str) -> None:
    with contextlib.suppress(OSError):  # no xattrs here: uploads will compute it
        os.setxattr(path, MD5_XATTR, md5.encode())


def recorded_md5(path: str | os.PathLike[str]) -> str | None:
    try:
        value = os.getxattr(path, MD5_XATTR).decode()
    except OSError:
        return None
    return value if len(value) == 32 else None
