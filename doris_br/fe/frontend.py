"""The FE process: the catalog, the BE registry, the MySQL server and the background loops."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import sys
import time
from typing import Any

import uvloop
from mysql_mimic.control import LocalControl

from doris_br import collector, logs
from doris_br.config import FeConfig
from doris_br.errors import ER_BAD_DB, DorisError
from doris_br.fe import stale
from doris_br.fe.backends import BackendRegistry, parse_host_port
from doris_br.fe.catalog import Catalog, User
from doris_br.fe.dynamic_partitions import DynamicPartitionScheduler
from doris_br.fe.jobs.hooks import StepHook
from doris_br.fe.jobs.manager import JobManager
from doris_br.fe.journal import Journal, journal_path
from doris_br.fe.lock import FeLock
from doris_br.fe.privileges import has_any_on_db
from doris_br.fe.snapshots import SnapshotDropper
from doris_br.fe.verify import VerifyRegistry
from doris_br.server import compat
from doris_br.server.auth import CatalogIdentityProvider
from doris_br.server.listener import DorisServer, raise_file_limit
from doris_br.sql.limits import ExpressionLimits, raise_recursion_limit

log = logging.getLogger(__name__)

SYSTEM_DATABASES = ("information_schema",)


class Frontend:
    def __init__(self, config: FeConfig, job_hook: StepHook | None = None) -> None:
        """`job_hook`: the job scheduler's (fe/jobs/hooks.py); tests pass theirs, the FE process runs with none."""
        self.config = config
        self.lock = FeLock(journal_path(config.data_dir).parent).acquire()
        self.catalog = Catalog(Journal(journal_path(config.data_dir)))
        self.backends = BackendRegistry(self)
        self.jobs = JobManager(self, job_hook)
        self.verifies = VerifyRegistry()  # VERIFY SNAPSHOT's progress (fe/verify.py)
        self.dynamic_partitions = DynamicPartitionScheduler(self)
        self.snapshots = SnapshotDropper(self)
        self.global_variables = compat.global_variables()
        self.sessions: dict[int, Any] = {}
        self.start_time = time.time()
        self.frontend_config: dict[str, str] = {}
        self.query_port = config.query_port
        self.http_port = config.http_port  # the bound ports once serving
        # Marks a Stream Load a BE relays (doris_br.http.relay); told to the BEs in heartbeats, new each start.
        self.relay_token = secrets.token_urlsafe(32)
        self._acting_users: dict[str, tuple[int, User | None]] = {}  # find_user's, by name, with the generation
        self._bootstrap_users()

    def _bootstrap_users(self) -> None:
        """First start: root (role operator: NODE and ADMIN) and admin (role admin: ADMIN), both with empty
        passwords, as in Doris."""
        if self.catalog.all(User):
            return
        self.catalog.commit([
            User("root", roles=("operator",)),
            User("admin", roles=("admin",)),
        ])

    def expression_limits(self) -> ExpressionLimits:
        """Doris's expr_depth_limit and expr_children_limit, as ADMIN SET FRONTEND CONFIG last set them."""
        default = ExpressionLimits()
        try:
            return ExpressionLimits(depth=int(self.frontend_config.get("expr_depth_limit", default.depth)),
                                    children=int(self.frontend_config.get("expr_children_limit", default.children)))
        except ValueError:
            return default

    def find_user(self, name: str) -> User | None:
        """The user logging in or acting, with what its roles grant. Every statement asks; the answer is kept
        until the catalog next changes (a GRANT, a REVOKE, a dropped role apply to the next statement)."""
        generation = self.catalog.generation
        kept = self._acting_users.get(name)
        if kept is not None and kept[0] == generation:
            return kept[1]
        if len(self._acting_users) > 10_000:  # names of failed logins too: bounded
            self._acting_users.clear()
        user = self._find_user(name)
        self._acting_users[name] = (generation, user)
        return user

    def _find_user(self, name: str) -> User | None:
        candidates = [u for u in self.catalog.all(User) if u.name == name]
        # Doris matches the most specific host first; '%' is the catch-all.
        candidates.sort(key=lambda u: u.host == "%")
        return self.catalog.acting_user(candidates[0]) if candidates else None

    def database_names(self) -> list[str]:
        from doris_br.fe.olap import Database

        return list(SYSTEM_DATABASES) + sorted(d.name for d in self.catalog.all(Database))

    def resolve_database_for_use(self, user: User, name: str) -> str:
        for db in self.database_names():
            if db.lower() == name.lower():
                if db not in SYSTEM_DATABASES and not has_any_on_db(user, db):
                    raise DorisError(f"Access denied for user '{user.name}' to database '{db}'", 1044)
                return db
        raise DorisError(f"Unknown database '{name}'", ER_BAD_DB)

    # ---- running -----------------------------------------------------------------------------------------

    async def serve(self, auto_backends: list[str]) -> None:
        for address in auto_backends:
            await self.backends.adopt(*parse_host_port(address))
        await self.backends.heartbeat_all()
        # Sessions, logins in progress, BE clients, journal and tablet files must all fit under the file limit.
        raise_file_limit(2 * self.config.qe_max_connection + 1024)
        server = DorisServer(
            session_factory=self._new_session,
            identity_provider=CatalogIdentityProvider(self.find_user),
            control=LocalControl(server_id=1),
            max_handshakes=self.config.qe_max_connection,
            packet_limit=lambda: int(self.global_variables.get("max_allowed_packet")),
        )
        await server.start_server(host=self.config.host, port=self.config.query_port)
        port = server.sockets()[0].getsockname()[1]
        self.query_port = port
        from doris_br.http.app import start_http

        http, self.http_port = await start_http(self, self.config.host, self.config.http_port)
        collector.hold_full_collections()  # the libraries and the catalog just loaded: never garbage
        collections = asyncio.create_task(collector.collect_forever(lambda: bool(self.jobs.unfinished())))
        heartbeats = asyncio.create_task(self.backends.heartbeat_forever())
        jobs = asyncio.create_task(self.jobs.run_forever())
        sweeper = asyncio.create_task(stale.sweep_forever(self))
        dynamic_partitions = asyncio.create_task(self.dynamic_partitions.run_forever())
        retention = asyncio.create_task(self.snapshots.run_forever())  # first finishes drops a crash left
        # The line the launcher and the tests wait for; keep its shape (the console's address comes last).
        print(f"doris-br FE ready on {self.config.host}:{port} (mysql -h{self.config.host} -P{port} -uroot) "
              f"http://{self.config.host}:{self.http_port}/", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        collections.cancel()
        heartbeats.cancel()
        jobs.cancel()
        sweeper.cancel()
        dynamic_partitions.cancel()
        retention.cancel()
        await http.cleanup()
        server.close()
        self.catalog.journal.close()

    def _new_session(self) -> Any:
        from doris_br.server.session import DorisSession

        return DorisSession(self)


def run_fe(config: FeConfig, auto_backends: list[str]) -> None:
    logs.configure()
    raise_recursion_limit()
    # A worker thread deep in a big job's bookkeeping (JSON, decoding a BE's answer) hands the interpreter back
    # every millisecond instead of every five: a session's round trip waits for it a few times over.
    sys.setswitchinterval(0.001)
    # uvloop's event loop: a small query's round trip is mostly the loop's own work (an echo server on it answers
    # twice as many round trips a second as on asyncio's), and SELECT 1 gained about a fifth (bench/wire.py).
    uvloop.run(Frontend(config).serve(auto_backends))
