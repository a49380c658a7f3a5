"""The FE-to-BE task interface, over Arrow Flight.

A task is a frozen attrs class registered with @task; it travels as a Flight action whose type is the class
name and whose body is the task as JSON. The BE answers with the task's `Result` as JSON, or fails with a
TaskError (a Doris status code and a message) that the FE records, for example in a job's TaskErrMsg.
Bulk data (writes, scans) uses Flight's do_put / do_get on the same server.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

import attrs
import cattrs
import pyarrow.flight as flight

T = TypeVar("T")

TASKS: dict[str, type] = {}
converter = cattrs.Converter()
_ERROR_PREFIX = "TASK_ERROR:"


def task(cls: type[T]) -> type[T]:
    TASKS[cls.__name__] = cls
    return cls


class TaskError(Exception):
    """A task's failure: `code` is one of Doris's status codes (COMMON_ERROR, BAD_FILE, TIMEOUT, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_wire(self) -> str:
        return _ERROR_PREFIX + json.dumps({"code": self.code, "message": self.message})

    @classmethod
    def from_flight(cls, error: flight.FlightError) -> TaskError:
        text = str(error)
        start = text.find(_ERROR_PREFIX)
        if start >= 0:
            body, _ = json.JSONDecoder().raw_decode(text[start + len(_ERROR_PREFIX) :])
            return cls(body["code"], body["message"])
        return cls("BAD_CONNECTION", text.splitlines()[0] if text else type(error).__name__)


def encode(obj: Any) -> bytes:
    return json.dumps(converter.unstructure(obj)).encode()


def decode(cls: type[T], body: bytes) -> T:
    return converter.structure(json.loads(body), cls)


def decode_task(name: str, body: bytes) -> Any:
    cls = TASKS.get(name)
    if cls is None:
        raise TaskError("COMMON_ERROR", f"unknown task type: {name}")
    return decode(cls, body)


# ---- tasks ---------------------------------------------------------------------------------------------


@attrs.frozen
class HeartbeatResult:
    instance_id: str
    start_time_ms: int
    version: str
    data_used_bytes: int
    disk_total_bytes: int
    disk_available_bytes: int
    tablet_count: int


@task
@attrs.frozen
class Heartbeat:
    Result: ClassVar[type] = HeartbeatResult
    fe_time_ms: int = 0


# ---- client --------------------------------------------------------------------------------------------


class BackendClient:
    """Calls tasks on one BE. Blocking: the FE runs calls in threads (asyncio.to_thread)."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.address = f"{host}:{port}"
        self._client = flight.FlightClient(f"grpc+tcp://{host}:{port}")
        self._timeout_s = timeout_s

    def call(self, task_obj: Any, timeout_s: float | None = None) -> Any:
        options = flight.FlightCallOptions(timeout=timeout_s or self._timeout_s)
        action = flight.Action(type(task_obj).__name__, encode(task_obj))
        try:
            results = list(self._client.do_action(action, options=options))
        except flight.FlightError as e:
            raise TaskError.from_flight(e) from None
        body = results[0].body.to_pybytes() if results else b"null"
        return decode(type(task_obj).Result, body)

    def close(self) -> None:
        self._client.close()
