"""Times as the catalog stores them (epoch milliseconds) and as Doris prints them (`yyyy-MM-dd HH:mm:ss`)."""

from __future__ import annotations

import datetime as dt
import functools
import time

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_ms() -> int:
    return int(time.time() * 1000)


def time_text(ms: int | float | None) -> str | None:
    """Doris's `yyyy-MM-dd HH:mm:ss` in local time; unset times (0 or less) are NULL."""
    if not ms or ms <= 0:
        return None
    return _second_text(int(ms // 1000))


def local_datetime(ms: int) -> dt.datetime | None:
    """A time in ms as a local DATETIME of whole seconds (SHOW TABLE STATUS's Create_time); unset times are NULL."""
    return dt.datetime.fromtimestamp(ms // 1000) if ms > 0 else None


@functools.lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    """Kept: SHOW BACKUP / RESTORE print the same few job times on every call."""
    return time.strftime(DATETIME_FORMAT, time.localtime(seconds))
