"""A BE's storage root: its identity and, in later layers, its tablets' files."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


class Storage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        id_file = self.root / "instance_id"
        if not id_file.exists():
            tmp = id_file.with_suffix(".tmp")
            tmp.write_text(uuid.uuid4().hex)
            tmp.rename(id_file)
        self.instance_id = id_file.read_text().strip()

    @property
    def port_file(self) -> Path:
        return self.root / "be.port"

    def data_used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def disk_usage(self) -> tuple[int, int]:
        usage = shutil.disk_usage(self.root)
        return usage.total, usage.free
