"""One JSON array (Stream Load's `strip_outer_array: true`) cut into JSON lines as it arrives.

Reading the whole array with `json.loads` costs about twenty times its size in Python objects (a 100 MB body
took the FE to 1.7 GB). Instead each arriving block is scanned once, vectorized with numpy: strings (quotes
not escaped by an odd run of backslashes), nesting depth, and the commas between the array's elements. Those
commas become line ends and the line ends between tokens become spaces, so the complete elements come out as
JSON lines, one element per line, which the JSON-lines path parses (pyarrow) and numbers as before: line n
is element n. What is left of a partial element waits for the next block.

The scan checks the array's frame (`[` first, `]` last, nothing after it, no empty element); each element's
own syntax is left to the JSON parser.
"""

from __future__ import annotations

import numpy as np

_SPACE, _NEWLINE = ord(" "), ord("\n")
# The bytes the scan looks at, by role (0: any other byte): outside strings, 1 opens, 2 closes, 3 separates
# and 4 is a line end (made a space); 5 and 6 make strings.
_OPEN, _CLOSE, _COMMA, _LINE_END, _QUOTE, _BACKSLASH = 1, 2, 3, 4, 5, 6
_ROLE = np.zeros(256, np.uint8)
_ROLE[list(b"[{")] = _OPEN
_ROLE[list(b"]}")] = _CLOSE
_ROLE[ord(",")] = _COMMA
_ROLE[list(b"\n\r")] = _LINE_END
_ROLE[ord('"')] = _QUOTE
_ROLE[ord("\\")] = _BACKSLASH
_WHITE = np.zeros(256, bool)
_WHITE[list(b" \t\n\r")] = True


class NotAJsonArray(ValueError):
    """The body is not one JSON array: the message says where."""


class JsonArraySplitter:
    """Feed the body's bytes in order; each `feed` returns the elements completed so far as JSON lines."""

    def __init__(self) -> None:
        self.offset = 0  # bytes fed so far
        self.elements = 0  # elements returned so far
        self.started = False  # the opening `[` was seen
        self.ended = False  # the closing `]` was seen
        self._in_string = False
        self._escaped = False  # the bytes so far end in an odd run of backslashes
        self._depth = 0
        self._has_content = False  # the partial element after the last comma holds more than white space
        self._pending: list[np.ndarray] = []  # that partial element, already rewritten

    def feed(self, data: bytes | memoryview) -> memoryview:
        arr = np.frombuffer(data, np.uint8).copy()  # rewritten in place: commas and line ends
        base, self.offset = self.offset, self.offset + len(arr)
        white = _WHITE[arr]
        if self.ended:
            self._only_white_after_end(white, base)
            return memoryview(b"")
        first = 0
        if not self.started:  # white space may come first
            first = self._find_start(arr, white, base)
            if first < 0:
                return memoryview(b"")
        opened_here = not self.started
        marked = np.flatnonzero(_ROLE[arr])  # one pass over the block; the rest works on these positions
        roles = _ROLE[arr[marked]]
        quotes = self._unescaped_quotes(len(arr), marked[roles == _QUOTE], marked[roles == _BACKSLASH])
        structure = (roles <= _LINE_END) & (marked >= first)
        boundaries = self._mark_structure(arr, quotes, marked[structure], roles[structure], base)
        return self._complete_elements(arr, white, first, boundaries, base, opened_here)

    def finish(self) -> None:
        """The body ended: it must have been one whole array."""
        if not self.started:
            return  # nothing but white space: the caller answers that the body is empty
        if not self.ended:
            raise NotAJsonArray(f"the body is not a JSON array: it ends inside the array (byte {self.offset})")

    # ---- the scan ---------------------------------------------------------------------------------------

    def _find_start(self, arr: np.ndarray, white: np.ndarray, base: int) -> int:
        """Where the opening `[` is (-1: only white space so far); anything else first is refused."""
        solid = np.flatnonzero(~white)
        if not len(solid):
            return -1
        first = int(solid[0])
        if arr[first] != ord("["):
            raise NotAJsonArray("strip_outer_array is true but the body is not a JSON array "
                                f"(byte {base + first} is {bytes(arr[first:first + 1])!r}, not '[')")
        return first

    def _unescaped_quotes(self, size: int, quotes: np.ndarray, slashes: np.ndarray) -> np.ndarray:
        """Positions of the quotes that open or close a string: those not after an odd run of backslashes."""
        escaped_at_start = self._escaped
        if len(slashes):
            run_start = np.concatenate(([True], np.diff(slashes) != 1))
            starts = slashes[run_start][np.cumsum(run_start) - 1]
            # Backslashes in a run up to and including each one; a run at the block's start continues the last.
            count = slashes - starts + 1 + ((starts == 0) & escaped_at_start)
            odd = (count & 1).astype(bool)
            self._escaped = bool(slashes[-1] == size - 1 and odd[-1])
        else:
            odd = np.zeros(0, bool)
            self._escaped = False
        if not len(quotes):
            return quotes
        before = quotes - 1
        at = np.searchsorted(slashes, before)
        hit = at < len(slashes)
        hit[hit] = slashes[at[hit]] == before[hit]
        escaped = np.zeros(len(quotes), bool)
        escaped[hit] = odd[at[hit]]
        if quotes[0] == 0:
            escaped[0] = escaped_at_start
        return quotes[~escaped]

    def _mark_structure(self, arr: np.ndarray, quotes: np.ndarray, marked: np.ndarray, kind: np.ndarray,
                        base: int) -> np.ndarray:
        """Rewrite the bytes outside strings (line ends to spaces, the array's commas and its `]` to line
        ends, its `[` to a space); the positions of the element boundaries (those commas and the `]`).
        `marked` are the block's brackets, commas and line ends, `kind` their roles."""
        inside = ((np.searchsorted(quotes, marked) + self._in_string) & 1).astype(bool)
        self._in_string = bool((len(quotes) + self._in_string) & 1)
        marked, kind = marked[~inside], kind[~inside]
        arr[marked[kind == _LINE_END]] = _SPACE
        keep = kind != _LINE_END
        marked, kind = marked[keep], kind[keep]
        step = np.where(kind == _OPEN, 1, np.where(kind == _CLOSE, -1, 0))
        after = self._depth + np.cumsum(step)
        self.started = True  # the `[` _find_start found took the depth from 0 to 1
        boundaries = marked[(kind == _COMMA) & (after == 1)]
        closed = np.flatnonzero(after <= 0)
        if len(closed):
            end = int(marked[closed[0]])
            if after[closed[0]] < 0 or arr[end] != ord("]"):
                raise NotAJsonArray(f"the body is not a JSON array: byte {base + end} closes what is not open")
            boundaries = np.append(boundaries[boundaries < end], end)
            self.ended = True
            self._only_white_after_end(_WHITE[arr[end + 1:]], base + end + 1)
        elif len(after):
            self._depth = int(after[-1])
        arr[boundaries] = _NEWLINE
        return boundaries

    def _only_white_after_end(self, white: np.ndarray, base: int) -> None:
        solid = np.flatnonzero(~white)
        if len(solid):
            raise NotAJsonArray(f"the body is not a JSON array: byte {base + int(solid[0])} follows its closing ']'")

    # ---- what is returned -------------------------------------------------------------------------------

    def _complete_elements(self, arr: np.ndarray, white: np.ndarray, first: int, boundaries: np.ndarray,
                           base: int, opened_here: bool) -> memoryview:
        """The elements that end in this block, one per line, after the partial one the last block left;
        what follows the last of them is kept for the next block."""
        begin = first + 1 if opened_here else 0
        white[boundaries] = True  # now line ends
        if not len(boundaries):
            if not self.ended:
                self._has_content = self._has_content or bool((~white[begin:]).any())
                self._pending.append(arr[begin:].copy())
            return memoryview(b"")
        last = int(boundaries[-1])
        starts = np.concatenate(([begin], boundaries[:-1] + 1))
        solid = np.logical_or.reduceat(~white[:last + 1], starts)
        solid[0] |= self._has_content
        count = len(boundaries)
        if self.ended and count == 1 and self.elements == 0 and not solid[0]:
            count = 0  # `[]`: an empty array
        elif not solid.all():
            empty = int(np.flatnonzero(solid == 0)[0])
            raise NotAJsonArray(f"the body is not a JSON array: element {self.elements + empty + 1} is empty "
                                f"(byte {base + int(boundaries[empty])})")
        out = arr[begin:last + 1]
        if self._pending:
            out = np.concatenate([*self._pending, out])
        self._pending = [] if self.ended else [arr[last + 1:].copy()]
        self._has_content = not self.ended and bool((~white[last + 1:]).any())
        self.elements += count
        return memoryview(out) if count else memoryview(b"")
