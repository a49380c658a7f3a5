"""Process logging: one format, and a cap on how often one message may repeat.

A client can make the FE log on purpose (a flood of broken connections, or the accept errors of a full file
table), so each message template may be logged at most BURST times in PERIOD_S seconds; the rest are counted
and reported by the next record that gets through.
"""

from __future__ import annotations

import logging
import threading
import time

PERIOD_S = 60.0
BURST = 20
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RateLimit(logging.Filter):
    def __init__(self, period_s: float = PERIOD_S, burst: int = BURST) -> None:
        super().__init__()
        self.period_s, self.burst = period_s, burst
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._suppressed = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if now - start > self.period_s:
                start, count = now, 0
            if count >= self.burst:
                self._seen[key] = (start, count + 1)
                self._suppressed += 1
                return False
            self._seen[key] = (start, count + 1)
            if len(self._seen) > 10_000:  # many distinct messages: forget the oldest windows
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] <= self.period_s}
            if self._suppressed:
                record.msg = f"{record.msg} ({self._suppressed} repeated messages were not logged)"
                self._suppressed = 0
        return True


def configure(level: int = logging.WARNING) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RateLimit())
