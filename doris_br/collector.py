"""Python's cyclic garbage collector, run where its pauses do no harm.

A full collection looks at every object the process holds and holds every thread meanwhile: with a catalog of
10,000 tablets and a job or two, that is a tenth of a second, and at 100,000 tablets a whole second, taken every few
seconds while a big job makes new tablet records (measured with bench/scale.py: they were the FE's longest stalls).
So the FE freezes what it loaded at start (the libraries' and the catalog's objects are never garbage), keeps the
young collections (cheap, and most cycles die young), and makes the full ones only when no job has run for a while,
at most every FULL_EVERY_S, and at least every FULL_AT_LEAST_S however busy it is, so no leak can grow unchecked.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# gen2's threshold, never reached: full collections are made by collect_forever.
_NO_AUTOMATIC_FULL = 2**31 - 1
FULL_EVERY_S = 600.0
FULL_AT_LEAST_S = 3600.0
QUIET_S = 30.0  # how long no job may have run before a full collection
CHECK_S = 5.0


def hold_full_collections() -> None:
    """From now on the collector makes young collections only; what exists now is never looked at again."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NO_AUTOMATIC_FULL)


async def collect_forever(busy: Callable[[], bool]) -> None:
    """Full collections when `busy()` (a job is running) has been false for QUIET_S, at most every FULL_EVERY_S;
    after FULL_AT_LEAST_S without one, one is made anyway."""
    last_full = last_busy = time.monotonic()
    while True:
        await asyncio.sleep(CHECK_S)
        now = time.monotonic()
        if busy():
            last_busy = now
        quiet = now - last_busy >= QUIET_S and now - last_full >= FULL_EVERY_S
        if quiet or now - last_full >= FULL_AT_LEAST_S:
            start = time.perf_counter()
            found = gc.collect()
            last_full = time.monotonic()
            log.info("full garbage collection: %d unreachable objects, %.0f ms", found,
                     (time.perf_counter() - start) * 1000)
