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
    # Stream Load as Doris's FE does it: answer 307 with a Location on an alive BE's webserver_port, whose HTTP
    # endpoint relays the load back to this FE (be/http.py). Off: the FE loads the body it is sent.
    stream_load_redirect_to_be: bool = False
    # How often the FE drops the snapshots a repository's retention (snapshot_keep_last, snapshot_ttl) or a
    # backup's own ttl let expire (fe/snapshots.py); ADMIN SET FRONTEND CONFIG changes it until a restart.
    snapshot_retention_interval_s: float = 600.0


@attrs.frozen
class BeConfig:
    host: str = "127.0.0.1"
    be_port: int = 0
    task_workers: int = 4
    storage_root: str = "./doris_br_data/be0"
    # Doris's be.conf key: `/disk1/doris.SSD` or `/disk1/doris,medium:ssd` (one root here; the first if several).
    # --storage-root wins over it, and may carry the same suffix.
    storage_root_path: str = ""
    # A tablet's newest rowsets are merged once this many are small enough to (be/compaction.py).
    cumulative_compaction_min_deltas: int = 5
    # How long merged rowsets stay on disk for the scans and snapshots that were planned before the merge.
    tablet_rowset_stale_sweep_time_sec: float = 300.0
    # Doris's BE HTTP port (Stream Load after the FE's redirect); 0 picks a free one, kept across restarts.
    webserver_port: int = 0


def root_and_medium(root_path: str) -> tuple[str, str]:
    """A storage root as Doris's be.conf writes it, and its medium: `path.SSD` / `path.HDD` (the suffix stays part
    of the folder's name, as in Doris) or `path,medium:ssd`; HDD when it says none."""
    path, _, option = root_path.split(";")[0].strip().partition(",")
    key, _, value = option.partition(":")
    if key.strip().lower() == "medium" and value.strip().upper() in ("SSD", "HDD"):
        return path, value.strip().upper()
    suffix = path.rstrip("/").rsplit(".", 1)[-1].upper() if "." in path.rsplit("/", 1)[-1] else ""
    return path, suffix if suffix in ("SSD", "HDD") else "HDD"


def parse_bool(text: str) -> bool:
    """A conf file's or ADMIN SET FRONTEND CONFIG's boolean, as Java's Boolean.parseBoolean reads it."""
    return text.strip().lower() == "true"


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
    if name == "bool":
        return parse_bool(text)
    return text
