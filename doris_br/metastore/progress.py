"""Progress bars for long metastore runs (tqdm on stderr, quiet when not wanted)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm


@contextmanager
def progress(total: int, what: str, enabled: bool = True) -> Iterator[Any]:
    with tqdm(total=total, desc=what, unit="obj", disable=not enabled, leave=False) as bar:
        yield bar
