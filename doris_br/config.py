"""conf/fe.conf and conf/be.conf read into attrs classes.

The files use Doris's `key = value` format. Precedence: command-line option, then the conf file, then the
defaults below (which match the shipped conf/ files, so the server also starts without them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import attrs

C = TypeVar("C")


@attrs.frozen
class FeConfig:
    data_dir: str = "./doris_br_data"
    host: str = "127.0.0.1"
    query_port: int = 9030
    http_port: int = 8030
    backends: int = 3
    heartbeat_interval_s: float = 3.0
    heartbeat_timeout_s: float = 10.0
    # A Stream Load's CSV body is parsed and sent in blocks of about this many bytes while the rest arrives.
    stream_load_block_bytes: int = 16 << 20
    # A client must log in within this many seconds (MySQL's connect_timeout).
    connect_timeout_s: float = 10.0
    # Sessions the FE serves at once, and per user (Doris's qe_max_connection and max_user_connections).
    qe_max_connection: int = 1024
    max_user_connections: int = 100
    # A Stream Load of one JSON array (strip_outer_array) larger than this is refused, as Doris's BE config.
    streaming_load_json_max_mb: int = 100
    # The tablets an INSERT OVERWRITE replaced are dropped this long after it, for the reads planned before.
    overwritten_tablets_keep_s: float = 60.0


@attrs.frozen
class BeConfig:
    host: str = "127.0.0.1"
    be_port: int = 0
    task_workers: int = 4
    storage_root: str = "./doris_br_data/be0"
    # A tablet's newest rowsets are merged once this many are small enough to (be/compaction.py).
    cumulative_compaction_min_deltas: int = 5
    # How long merged rowsets stay on disk for the scans and snapshots that were planned before the merge.
    tablet_rowset_stale_sweep_time_sec: float = 300.0


def read_conf_file(path: str | Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    return values


def load(cls: type[C], conf_file: str | Path | None, overrides: dict[str, Any]) -> C:
    """Build `cls` from a conf file (unknown keys are ignored, as Doris does) and non-None overrides."""
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    if conf_file is not None and Path(conf_file).exists():
        for key, text in read_conf_file(conf_file).items():
            if key in fields:
                values[key] = _convert(fields[key].type, text)
    values.update({k: v for k, v in overrides.items() if v is not None and k in fields})
    return cls(**values)


def _convert(type_name: Any, text: str) -> Any:
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    if name == "int":
        return int(text)
    if name == "float":
        return float(text)
    return text
