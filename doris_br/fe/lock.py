"""One FE per data folder: an exclusive lock on <data-dir>/fe/fe.lock while the FE (or a metadata
restore) has it open, so a restore never rewrites the journal under a running FE."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any


class FeLock:
    def __init__(self, fe_dir: Path, purpose: str = "run the FE") -> None:
        self.path = Path(fe_dir) / "fe.lock"
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> FeLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"cannot {self.purpose}: an FE is running on {self.path.parent.parent} (it holds {self.path}); "
                "stop it first"
            ) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FeLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
