"""The BE registry: registered backends (journaled), their liveness (heartbeats), and Flight clients."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import attrs

from doris_br import rpc
from doris_br.clock import now_ms
from doris_br.errors import DorisError
from doris_br.fe.catalog import Backend

if TYPE_CHECKING:
    from doris_br.fe.frontend import Frontend

log = logging.getLogger(__name__)


@attrs.define
class BackendStatus:
    """What heartbeats tell about a backend; kept in memory, as Doris does."""

    alive: bool = False
    last_heartbeat_ms: int = 0
    last_start_time_ms: int = 0
    err_msg: str = ""
    failures: int = 0
    report: rpc.HeartbeatResult | None = None


def parse_host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise DorisError(f"Invalid host port format: {text}. Expected host:port")
    return host, int(port)


class BackendRegistry:
    def __init__(self, fe: Frontend) -> None:
        self.fe = fe
        self.status: dict[int, BackendStatus] = {}
        self._clients: dict[int, rpc.BackendClient] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._next_http = 0  # round robin over the BEs a Stream Load is redirected to

    def all(self) -> list[Backend]:
        return sorted(self.fe.catalog.all(Backend), key=lambda b: b.id)

    def alive(self) -> list[Backend]:
        return [b for b in self.all() if self.status_of(b.id).alive]

    def http_target(self) -> tuple[str, int] | None:
        """host and webserver_port of the next alive BE that has an HTTP endpoint, in turn (a Stream Load's
        redirect); None when there is none."""
        ready = []
        for b in self.alive():
            report = self.status_of(b.id).report
            if report is not None and report.http_port:
                ready.append((b.host, report.http_port))
        if not ready:
            return None
        self._next_http += 1
        return ready[self._next_http % len(ready)]

    def status_of(self, backend_id: int) -> BackendStatus:
        return self.status.setdefault(backend_id, BackendStatus())

    def client(self, backend: Backend) -> rpc.BackendClient:
        client = self._clients.get(backend.id)
        if client is None or client.address != backend.address:
            client = rpc.BackendClient(backend.host, backend.port)
            self._clients[backend.id] = client
        return client

    async def call(self, backend: Backend, task: object, timeout_s: float | None = None) -> object:
        """Run a task on a BE from a thread, so the event loop keeps serving other sessions."""
        return await asyncio.to_thread(self.client(backend).call, task, timeout_s)

    def send_later(self, backend_id: int, task: object, timeout_s: float = 10.0) -> None:
        """Send a task nobody waits for (cleanup, compaction) in the background, if the BE is alive; a failure
        is only logged."""
        backend = self.fe.catalog.get(Backend, str(backend_id))
        if backend is None or not self.status_of(backend_id).alive:
            return

        async def send() -> None:
            try:
                await self.call(backend, task, timeout_s)
            except Exception as e:  # noqa: BLE001 - best effort by definition
                log.info("backend %s did not take %s: %s", backend_id, type(task).__name__, e)

        request = asyncio.get_running_loop().create_task(send())
        self._background.add(request)  # kept until done, or it could be collected before it runs
        request.add_done_callback(self._background.discard)

    async def open_repository(self, target: rpc.RepositoryTarget) -> None:
        """Have every alive BE open the repository's client now (best effort: a job reports real failures)."""
        async def one(backend: Backend) -> None:
            try:
                await self.call(backend, rpc.OpenRepository(target), 15.0)
            except rpc.TaskError as e:
                log.warning("backend %s could not open repository %s: %s", backend.id, target.name, e.message)

        await asyncio.gather(*(one(b) for b in self.alive()))

    # ---- membership --------------------------------------------------------------------------------------

    def add(self, host: str, port: int, instance_id: str = "") -> Backend:
        for b in self.all():
            if (b.host, b.port) == (host, port):
                raise DorisError(f"Same backend already exists[{host}:{port}]")
        backend = Backend(id=self.fe.catalog.allocate_ids(), host=host, port=port, instance_id=instance_id,
                          added_time_ms=now_ms())
        self.fe.catalog.commit([backend])
        return backend

    def drop(self, host: str, port: int) -> None:
        for b in self.all():
            if (b.host, b.port) == (host, port):
                self.fe.catalog.commit(deletes=[b])
                self.status.pop(b.id, None)
                client = self._clients.pop(b.id, None)
                if client:
                    client.close()
                return
        raise DorisError(f"backend does not exists[{host}:{port}]")

    async def adopt(self, host: str, port: int) -> None:
        """Register a BE the launcher started; a BE seen before (same storage root) keeps its id."""
        report = await asyncio.to_thread(rpc.BackendClient(host, port).call, rpc.Heartbeat(), 10.0)
        for b in self.all():
            if b.instance_id == report.instance_id:
                if (b.host, b.port) != (host, port):
                    self.fe.catalog.commit([attrs.evolve(b, host=host, port=port)])
                return
            if (b.host, b.port) == (host, port) and not b.instance_id:
                self.fe.catalog.commit([attrs.evolve(b, instance_id=report.instance_id)])
                return
        self.add(host, port, report.instance_id)

    # ---- heartbeats --------------------------------------------------------------------------------------

    async def heartbeat_all(self) -> None:
        await asyncio.gather(*(self._heartbeat(b) for b in self.all()))

    async def _heartbeat(self, backend: Backend) -> None:
        status = self.status_of(backend.id)
        try:
            report = await self.call(backend, self._heartbeat_task(), self.fe.config.heartbeat_timeout_s)
        except rpc.TaskError as e:
            status.alive, status.err_msg = False, e.message
            status.failures += 1
            return
        assert isinstance(report, rpc.HeartbeatResult)
        if backend.instance_id and report.instance_id != backend.instance_id:
            status.alive = False
            status.err_msg = f"backend at {backend.address} is another instance ({report.instance_id})"
            return
        if not backend.instance_id:
            self.fe.catalog.commit([attrs.evolve(backend, instance_id=report.instance_id)])
        status.alive, status.err_msg, status.failures = True, "", 0
        status.last_heartbeat_ms, status.last_start_time_ms = now_ms(), report.start_time_ms
        status.report = report

    def _heartbeat_task(self) -> rpc.Heartbeat:
        """A heartbeat tells the BE where this FE's HTTP port is, for the Stream Loads it relays; 0 until the
        port is bound."""
        host = self.fe.config.host
        if host in ("", "0.0.0.0", "::"):  # listening everywhere: a BE reaches it on the loopback
            host = "127.0.0.1"
        return rpc.Heartbeat(fe_time_ms=now_ms(), fe_http_host=host, fe_http_port=self.fe.http_port,
                             relay_token=self.fe.relay_token)

    async def heartbeat_forever(self) -> None:
        while True:
            try:
                await self.heartbeat_all()
            except Exception:  # the loop must outlive any single failure
                log.exception("heartbeat round failed")
            await asyncio.sleep(self.fe.config.heartbeat_interval_s)
