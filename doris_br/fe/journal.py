"""The FE's durable metadata store.

Every catalog object is one row (kind, key, JSON body) in SQLite. A change is a set of puts and deletes
committed in one transaction, in WAL mode with synchronous=FULL, before the statement that made it returns:
after a crash (kill -9 included) the store holds exactly the committed changes. The same rows are what
`doris-br metastore backup` writes out, one folder per kind and one file per object.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from doris_br import json_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""

def dumps(value: Any) -> str:
    """json.dumps(value, sort_keys=True), the same text, made in small pieces so other threads run meanwhile."""
    return json_text.dumps(value, sort_keys=True)


def journal_path(data_dir: str | Path) -> Path:
    """Where an FE keeps its journal in its data folder (the metastore commands find it there too)."""
    return Path(data_dir) / "fe" / "meta.db"


# A put's body is the object's JSON, as a dict or as its text already made (the catalog makes a big job's off the
# event loop).
Put = tuple[str, str, dict[str, Any] | str]
Delete = tuple[str, str]


class Journal:
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only:
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The journal holds repositories' keys and users' password hashes: only the FE's own user reads it.
            self.path.parent.chmod(0o700)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def commit(self, puts: Iterable[Put] = (), deletes: Iterable[Delete] = ()) -> None:
        """Apply puts and deletes atomically; returns only once they are durable."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany(
                    "INSERT OR REPLACE INTO objects(kind, key, body) VALUES (?, ?, ?)",
                    [(kind, key, body if isinstance(body, str) else dumps(body)) for kind, key, body in puts],
                )
                cur.executemany("DELETE FROM objects WHERE kind = ? AND key = ?", list(deletes))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every object, read in one transaction so the result is a consistent picture."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN")
            try:
                fetched = cur.execute("SELECT kind, key, body FROM objects ORDER BY kind, key").fetchall()
            finally:
                cur.execute("COMMIT")
        for kind, key, body in fetched:
            yield kind, key, json.loads(body)
