"""The FE's and BEs' log rate limit, in process: a flood of one message writes a few lines, then says how many
it left out."""

from __future__ import annotations

import io
import logging

from doris_br.logs import BURST, FORMAT, RateLimit


def test_a_flood_of_one_message_is_cut_and_counted() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RateLimit(period_s=3600))
    log = logging.getLogger("flood")
    log.addHandler(handler)
    log.propagate = False
    try:
        for n in range(10_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.exception("socket.accept() out of system resource (connection %d)", n)
        log.warning("something else")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert text.count("out of system resource") == BURST
    assert f"something else ({10_000 - BURST} repeated messages were not logged)" in text
    assert len(text) < 50_000
