"""JSON text of big values without holding every thread: the journal's rows, BE task requests, snapshot files
written (dumps) and a snapshot's meta and info read back (loads)."""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

# json.dumps runs in C without letting go of the interpreter: a job of 10,000 tablets (megabytes of JSON) held
# every other thread, the event loop's included, for half a second, and a backup's meta (partitions nested in
# tables, tablets in partitions) for a tenth of one. A value of more than _PIECE members, however deep, is written a
# member at a time (a long list's small members in runs of about _PIECE), so json.dumps only ever sees pieces of a
# few tenths of a millisecond and other threads get their turn in between; the whole costs under twice json.dumps.
_PIECE = 1024


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """json.dumps(value, sort_keys=sort_keys), the same text, made in small pieces (see _PIECE)."""
    if _size(value) <= _PIECE:
        return json.dumps(value, sort_keys=sort_keys)
    if isinstance(value, dict):
        keys = sorted(value) if sort_keys else value
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(value[k], sort_keys=sort_keys)}" for k in keys) + "}"
    return "[" + ", ".join(_list_pieces(value, sort_keys)) + "]"


def _list_pieces(items: list[Any] | tuple[Any, ...], sort_keys: bool) -> list[str]:
    """A long list's members as texts: runs of small members written together, a big one on its own."""
    pieces: list[str] = []
    run: list[Any] = []
    used = 0
    for item in items:
        size = _size(item) + 1
        if run and (used + size > _PIECE or size > _PIECE):
            pieces.append(json.dumps(run, sort_keys=sort_keys)[1:-1])
            run, used = [], 0
        if size > _PIECE:
            pieces.append(dumps(item, sort_keys=sort_keys))
        else:
            run.append(item)
            used += size
    if run:
        pieces.append(json.dumps(run, sort_keys=sort_keys)[1:-1])
    return pieces


def _size(value: Any) -> int:
    """How many members the value holds in all, counted only until that passes _PIECE (so a huge value costs no
    more to look at than a small one)."""
    size = 0
    stack = [value]
    while stack and size <= _PIECE:
        item = stack.pop()
        if isinstance(item, dict):
            size += len(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            size += len(item)
            stack.extend(item)
    return size


# json.loads of a 100,000-tablet snapshot's meta is one C call of a fifth of a second, holding every thread. loads
# walks the top _DEPTH levels of objects and arrays itself and hands each value below them (a partition, a tablet's
# files) to the C scanner alone, so other threads run between values. The result is json.loads's.
_DEPTH = 4
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def loads(text: str | bytes) -> Any:
    """json.loads(text), read a value at a time below the top levels (see _DEPTH)."""
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")  # as json.loads reads bytes
    value, end = _value(text, _SPACE.match(text, 0).end(), 0)
    end = _SPACE.match(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _value(text: str, i: int, depth: int) -> tuple[Any, int]:
    if depth < _DEPTH and text.startswith("{", i):
        return _object(text, i + 1, depth + 1)
    if depth < _DEPTH and text.startswith("[", i):
        return _array(text, i + 1, depth + 1)
    try:
        return _DECODER.scan_once(text, i)
    except StopIteration as stop:
        raise json.JSONDecodeError("Expecting value", text, stop.value) from None


def _object(text: str, i: int, depth: int) -> tuple[dict[str, Any], int]:
    found: dict[str, Any] = {}
    i = _SPACE.match(text, i).end()
    if text.startswith("}", i):
        return found, i + 1
    while True:
        if not text.startswith('"', i):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
        key, i = scanstring(text, i + 1)
        i = _SPACE.match(text, i).end()
        if not text.startswith(":", i):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
        found[key], i = _value(text, _SPACE.match(text, i + 1).end(), depth)
        ended, i = _after_member(text, i, "}")
        if ended:
            return found, i


def _array(text: str, i: int, depth: int) -> tuple[list[Any], int]:
    found: list[Any] = []
    i = _SPACE.match(text, i).end()
    if text.startswith("]", i):
        return found, i + 1
    while True:
        item, i = _value(text, i, depth)
        found.append(item)
        ended, i = _after_member(text, i, "]")
        if ended:
            return found, i


def _after_member(text: str, i: int, close: str) -> tuple[bool, int]:
    """After an object's or array's member: (True, past its closing bracket) or (False, where the next begins)."""
    i = _SPACE.match(text, i).end()
    if text.startswith(close, i):
        return True, i + 1
    if not text.startswith(",", i):
        raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
    return False, _SPACE.match(text, i + 1).end()
