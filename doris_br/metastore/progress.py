"""Progress bars for long metastore runs: tqdm on stderr, so stdout keeps only the result lines scripts read."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

MODES = ("auto", "on", "off")
# In auto mode a bar appears only on a terminal and only once a run has lasted this long: short runs stay quiet.
AUTO_DELAY_S = 0.5


@contextmanager
def progress(total: int, what: str, mode: str = "auto") -> Iterator[Any]:
    enabled = mode == "on" or (mode == "auto" and sys.stderr.isatty())
    delay = AUTO_DELAY_S if mode == "auto" else 0.0
    with tqdm(total=total, desc=what, unit="obj", file=sys.stderr, disable=not enabled, leave=False,
              delay=delay) as bar:
        yield bar
