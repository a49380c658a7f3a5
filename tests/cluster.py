"""A real doris-br cluster for tests: BE and FE processes on free loopback ports in a temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pymysql

from doris_br.cli import spawn, stop

FAST_FE_CONF = """\
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 2
connect_timeout_s = 3
"""


class Cluster:
    def __init__(self, root: Path, backends: int = 3, be_conf: str = "", media: tuple[str, ...] = ()) -> None:
        """`be_conf`: be.conf lines for every BE, instead of conf/be.conf. `media`: the storage medium of each BE
        ("SSD" / "HDD", as the suffix of its storage root: be0.SSD); BEs it does not name are HDD by default."""
        self.root = root
        self.media = media
        self.backend_count = backends
        self.fe: subprocess.Popen[bytes] | None = None
        self.bes: list[subprocess.Popen[bytes] | None] = [None] * backends
        self.be_addresses: list[str] = [""] * backends
        self.be_http_ports: list[int] = [0] * backends  # each BE's webserver_port, from its ready line
        self.port = 0
        self.http_port = 0
        self.conf = root / "fe.conf"
        root.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(FAST_FE_CONF)
        self.be_conf: Path | None = None
        if be_conf:
            self.be_conf = root / "be.conf"
            self.be_conf.write_text(be_conf)

    # ---- processes ---------------------------------------------------------------------------------------

    def start(self) -> Cluster:
        for i in range(self.backend_count):
            self.start_be(i)
        self.start_fe(auto_backends=True)
        return self

    def start_be(self, i: int) -> str:
        suffix = f".{self.media[i]}" if i < len(self.media) else ""
        args = ["be", "--storage-root", str(self.root / f"be{i}{suffix}")]
        if self.be_conf is not None:
            args += ["--conf", str(self.be_conf)]
        proc, line = spawn(args, self.root / "log" / f"be{i}.log")
        self.bes[i] = proc
        self.be_addresses[i] = line.split(" ready on ")[1].split()[0]
        self.be_http_ports[i] = int(line.rsplit(" http=", 1)[1].split()[0])
        return self.be_addresses[i]

    def start_fe(self, auto_backends: bool = True) -> None:
        args = ["fe", "--conf", str(self.conf), "--data-dir", str(self.root), "--query-port", str(self.port or 0),
                "--http-port", str(self.http_port or 0)]
        if auto_backends and any(self.be_addresses):
            args += ["--auto-backends", ",".join(a for a in self.be_addresses if a)]
        self.fe, line = spawn(args, self.root / "log" / "fe.log")
        self.port = int(line.split(" ready on ")[1].split()[0].rsplit(":", 1)[1])
        self.http_port = int(line.rsplit("http://", 1)[1].rstrip("/ \n").rsplit(":", 1)[1])

    @property
    def http(self) -> str:
        """The FE's HTTP base address: Stream Load, the REST API and the console."""
        return f"http://127.0.0.1:{self.http_port}"

    def be_http(self, i: int) -> str:
        """BE i's HTTP base address (its webserver_port), where the FE redirects Stream Loads."""
        return f"http://127.0.0.1:{self.be_http_ports[i]}"

    def fe_peak_rss(self) -> int:
        """The FE process's peak resident memory so far, in bytes (Linux's VmHWM)."""
        assert self.fe is not None
        status = Path(f"/proc/{self.fe.pid}/status").read_text()
        return int(status.split("VmHWM:", 1)[1].split()[0]) * 1024

    def kill_fe(self, sig: int = signal.SIGKILL) -> None:
        assert self.fe is not None
        os.kill(self.fe.pid, sig)
        self.fe.wait(timeout=30)
        self.fe = None

    def kill_be(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.bes[i]
        assert proc is not None
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        self.bes[i] = None

    def stop(self) -> None:
        stop([p for p in [self.fe] if p is not None])
        stop([p for p in self.bes if p is not None])

    # ---- clients -----------------------------------------------------------------------------------------

    def connect(self, user: str = "root", password: str = "", database: str | None = None,
                **kwargs: object) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=user, password=password, database=database,
                               autocommit=True, **kwargs)

    def query(self, sql: str, user: str = "root", password: str = "") -> list[tuple]:
        with self.connect(user, password) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    def query_dicts(self, sql: str, user: str = "root", password: str = "") -> list[dict]:
        with self.connect(user, password, cursorclass=pymysql.cursors.DictCursor) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    def mariadb(self, sql: str, user: str = "root", password: str = "", extra: tuple[str, ...] = (),
                stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """The mariadb command-line client, as a user would run it."""
        args = ["mariadb", "-h127.0.0.1", f"-P{self.port}", f"-u{user}", *extra]
        if password:
            args.append(f"-p{password}")
        if sql:
            args += ["-e", sql]
        return subprocess.run(args, capture_output=True, text=True, timeout=60, input=stdin)

    def wait_for(self, predicate, timeout: float = 20.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
