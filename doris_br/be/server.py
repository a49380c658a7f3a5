"""The BE process: a pyarrow.flight server whose actions are the tasks of doris_br.rpc."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from doris_br import __version__, logs, rpc
from doris_br.be.background import BackgroundTasks
from doris_br.be.compaction import Compactor
from doris_br.be.http import FeLink, HttpServer
from doris_br.be.storage import Storage
from doris_br.clock import now_ms
from doris_br.config import BeConfig, root_and_medium

log = logging.getLogger(__name__)

Handler = Callable[["BackendService", Any], Any]
HANDLERS: dict[type, Handler] = {}


def handles(task_cls: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[task_cls] = fn
        return fn

    return register


class BackendService(flight.FlightServerBase):
    def __init__(self, config: BeConfig, storage: Storage, port: int, link: FeLink | None = None,
                 http_port: int = 0) -> None:
        super().__init__(f"grpc+tcp://{config.host}:{port}")
        self.config = config
        self.storage = storage
        self.fe_link = link or FeLink()  # the FE's HTTP address, from heartbeats, for the HTTP relay
        self.http_port = http_port
        self.start_time_ms = now_ms()
        self.tasks = BackgroundTasks(config.task_workers)
        self.compactor = Compactor(storage, config.cumulative_compaction_min_deltas,
                                   config.tablet_rowset_stale_sweep_time_sec)

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        try:
            task = rpc.decode_task(action.type, action.body.to_pybytes())
            return [rpc.encode(self._handler(task)(self, task))]
        except rpc.TaskError as e:
            raise flight.FlightServerError(e.to_wire()) from None
        except Exception as e:  # a task's bug must come back as its error, not kill the BE
            log.exception("task %s failed", action.type)
            raise flight.FlightServerError(rpc.TaskError("COMMON_ERROR", str(e)).to_wire()) from None

    def do_put(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
               reader: flight.MetadataRecordBatchReader, writer: flight.FlightMetadataWriter) -> None:
        """Bulk writes: the descriptor's command is the task, the stream its rows; answers the task's Result."""
        try:
            task = rpc.decode_command(descriptor.command)
            # The reader itself: a handler stores the rows as they arrive instead of holding them all.
            result = self._handler(task)(self, task, reader)
            writer.write(pa.py_buffer(rpc.encode(result)))
        except rpc.TaskError as e:
            raise flight.FlightServerError(e.to_wire()) from None
        except Exception as e:
            log.exception("put failed")
            raise flight.FlightServerError(rpc.TaskError("COMMON_ERROR", str(e)).to_wire()) from None

    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket) -> flight.RecordBatchStream:
        """Scans: the ticket is the task; the answer is the table it selects."""
        try:
            task = rpc.decode_command(ticket.ticket)
            return flight.RecordBatchStream(self._handler(task)(self, task))
        except rpc.TaskError as e:
            raise flight.FlightServerError(e.to_wire()) from None
        except Exception as e:
            log.exception("get failed")
            raise flight.FlightServerError(rpc.TaskError("COMMON_ERROR", str(e)).to_wire()) from None

    def _handler(self, task: Any) -> Any:
        handler = HANDLERS.get(type(task))
        if handler is None:
            raise rpc.TaskError("COMMON_ERROR", f"task {type(task).__name__} is not supported by this BE")
        return handler


@handles(rpc.Heartbeat)
def heartbeat(be: BackendService, task: rpc.Heartbeat) -> rpc.HeartbeatResult:
    be.fe_link.update(task.fe_http_host, task.fe_http_port, task.relay_token)
    total, free = be.storage.disk_usage()
    return rpc.HeartbeatResult(
        instance_id=be.storage.instance_id,
        start_time_ms=be.start_time_ms,
        version=__version__,
        data_used_bytes=be.storage.data_used_bytes(),
        disk_total_bytes=total,
        disk_available_bytes=free,
        tablet_count=be.storage.tablet_count(),
        storage_medium=be.storage.medium,
        http_port=be.http_port,
    )


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        # Connections the killed BE had accepted linger in TIME_WAIT; they must not keep it off its port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(config: BeConfig, storage: Storage) -> int:
    """The configured port; else the one this storage root used last time, so the FE finds it again."""
    return _kept_port(config.be_port, config.host, storage.port_file)


def _kept_port(configured: int, host: str, kept: Path) -> int:
    if configured:
        return configured
    try:
        previous = int(kept.read_text())
    except (OSError, ValueError):  # never started, or a file we did not write whole
        return 0
    return previous if _port_is_free(host, previous) else 0


def run_be(config: BeConfig) -> None:
    logs.configure()
    root, medium = root_and_medium(config.storage_root_path or config.storage_root)
    storage = Storage(root, medium)
    if removed := storage.remove_partial_files():
        log.info("removed %d partial files of writes a previous run did not finish", removed)
    link = FeLink()
    http = HttpServer(link)  # before the Flight port, so the first heartbeat already reports it
    http_port = http.start(config.host, _kept_port(config.webserver_port, config.host, storage.http_port_file))
    storage.http_port_file.write_text(str(http_port))
    service = BackendService(config, storage, choose_port(config, storage), link, http_port)
    storage.port_file.write_text(str(service.port))
    # The line the launcher and the tests wait for; keep its shape (new fields go at the end).
    print(f"doris-br BE ready on {config.host}:{service.port} storage={storage.root} medium={medium} "
          f"http={http_port}", flush=True)

    def stop(signum: int, frame: Any) -> None:
        def both() -> None:
            http.stop()
            service.shutdown()

        threading.Thread(target=both, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.serve()


# Importing the task modules registers their handlers.
from doris_br.be import backup, clone, tablets, verify  # noqa: E402,F401
