"""The BE's HTTP port (be.conf webserver_port): `PUT /api/{db}/{table}/_stream_load`, where the FE's redirect sends
Stream Load clients (fe.conf stream_load_redirect_to_be).

The BE does not load anything itself: it relays the request (method, path, query, headers with Authorization, the
body streamed chunk by chunk) to the FE's Stream Load handler, marked with the FE's relay token so the FE loads it
instead of redirecting again, and answers with the FE's status, headers and body. The load, its label, its
transaction and its answer are the FE's. The FE's address and token come with every heartbeat.

aiohttp, in its own thread and event loop beside the Flight server (whose handlers are threads).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future

import aiohttp
import attrs
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from doris_br.http.relay import MAX_BODY, RELAY_HEADER, end_to_end

log = logging.getLogger(__name__)

# How long the relay waits for the next bytes of a client's body: the FE's default
# stream_load_idle_timeout_second (the FE's own limit may be shorter and then answers first).
IDLE_S = 300.0
# The longest a load may take (Doris's largest `timeout` header), and time for the FE's answer after it.
MAX_LOAD_S = 259200 + 60
CONNECT_S = 10.0
MAX_HEADERS = 100
MAX_ANSWER = 1 << 20  # the FE's answer is one JSON object
START_S = 30.0


@attrs.frozen
class FeAddress:
    """Where the FE's HTTP port is, as its last heartbeat said, and the token that marks a relayed load."""

    host: str
    port: int
    token: str = attrs.field(repr=False)

    @property
    def base(self) -> str:
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"


@attrs.define
class FeLink:
    """The FE this BE last heard from: set by the heartbeat handler (a Flight thread), read by the relay (the
    HTTP thread). One reference, replaced whole, so a reader never sees half an update."""

    address: FeAddress | None = None

    def update(self, host: str, port: int, token: str) -> None:
        if host and port and token:
            self.address = FeAddress(host, port, token)


class RelayFailed(Exception):
    """The client's side of a relay failed: its body was too large or stopped arriving."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@attrs.define
class BodyState:
    """Why the relayed body stopped early, if it did (the client library only sees a broken upload)."""

    failure: RelayFailed | None = None


def _answer(request: web.Request, message: str, status: int) -> web.Response:
    """The relay's own failures, in the Stream Load answer's shape (its Status and Message keys)."""
    body = {"TxnId": -1, "Label": request.headers.get("label", ""), "Comment": "", "TwoPhaseCommit": "false",
            "Status": "Fail", "Message": message}
    return web.json_response(body, status=status)


async def _body(content: aiohttp.StreamReader, state: BodyState) -> AsyncIterator[bytes]:
    """The client's body as it arrives, never held whole; stopped (which breaks the upload to the FE, so the FE
    gives the load up) when the client is idle too long or sends more than MAX_BODY."""
    sent = 0
    while True:
        try:
            chunk = await asyncio.wait_for(content.readany(), IDLE_S)
        except TimeoutError:
            state.failure = RelayFailed(f"[TIMEOUT]no data received for {IDLE_S:g} s: the load is given up", 200)
            raise state.failure from None
        if not chunk:
            return
        sent += len(chunk)
        if sent > MAX_BODY:
            state.failure = RelayFailed(f"The body is larger than {MAX_BODY} bytes", 413)
            raise state.failure
        yield chunk


def _request_headers(request: web.Request, fe: FeAddress) -> CIMultiDict[str]:
    headers = end_to_end(request.headers)
    headers[RELAY_HEADER] = fe.token
    if request.content_length is not None:  # kept, so the FE sees the size (and the body is not chunked)
        headers["Content-Length"] = str(request.content_length)
    return headers


async def _read_answer(response: aiohttp.ClientResponse) -> bytes:
    """The FE's answer, at most MAX_ANSWER bytes of it."""
    parts: list[bytes] = []
    size = 0
    while chunk := await response.content.readany():
        size += len(chunk)
        if size > MAX_ANSWER:
            raise RelayFailed("the FE's answer is too large", 502)
        parts.append(chunk)
    return b"".join(parts)


async def relay_stream_load(request: web.Request) -> web.Response:
    fe: FeAddress | None = request.app["fe_link"].address
    if fe is None:
        return _answer(request, "this BE has not heard from its FE yet: no heartbeat received", 503)
    if len(request.headers) > MAX_HEADERS:
        return _answer(request, f"too many headers: more than {MAX_HEADERS}", 431)
    if (request.content_length or 0) > MAX_BODY:
        return _answer(request, f"The body is larger than {MAX_BODY} bytes", 413)
    state = BodyState()
    session: aiohttp.ClientSession = request.app["client"]
    url = URL(fe.base + request.rel_url.raw_path_qs, encoded=True)  # the path and query exactly as sent
    try:
        async with session.put(url, data=_body(request.content, state), headers=_request_headers(request, fe),
                               allow_redirects=False) as response:
            body = await _read_answer(response)
            headers = end_to_end(response.headers)
            return web.Response(status=response.status, headers=headers, body=body)
    except RelayFailed as e:
        return _answer(request, e.message, e.status)
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        if state.failure is not None:
            return _answer(request, state.failure.message, state.failure.status)
        log.warning("stream load relay to the FE at %s:%s failed: %s", fe.host, fe.port, type(e).__name__)
        return _answer(request, f"the FE at {fe.host}:{fe.port} could not be reached or did not answer", 502)


def build_app(link: FeLink) -> web.Application:
    app = web.Application()
    app["fe_link"] = link
    app.router.add_put("/api/{db}/{table}/_stream_load", relay_stream_load)
    app.router.add_put("/api/{db}/{table}/_stream_load/", relay_stream_load)
    app.cleanup_ctx.append(_client)
    return app


async def _client(app: web.Application) -> AsyncIterator[None]:
    """One client session for the relay, open as long as the app; the answer's bytes are passed on as the FE
    sent them (no decompression), and a load may take as long as its timeout allows."""
    timeout = aiohttp.ClientTimeout(total=MAX_LOAD_S, sock_connect=CONNECT_S)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                     trust_env=False) as session:
        app["client"] = session
        yield


class HttpServer:
    """The BE's HTTP port, served by an event loop of its own in a daemon thread."""

    def __init__(self, link: FeLink) -> None:
        self.link = link
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="be-http", daemon=True)

    def start(self, host: str, port: int) -> int:
        """Serve on host:port (0 picks a free one); the bound port. Raises when the port cannot be had."""
        self._thread.start()
        future: Future[int] = asyncio.run_coroutine_threadsafe(self._serve(host, port), self.loop)
        self.port = future.result(timeout=START_S)
        return self.port

    async def _serve(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(build_app(self.link), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        server = site._server
        return server.sockets[0].getsockname()[1] if server is not None and server.sockets else port

    def stop(self) -> None:
        """Close the port and the relay's client; the loads in flight end with the process."""
        if self._runner is not None and self.loop.is_running():
            closing = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop)
            try:
                closing.result(timeout=5)
            except Exception:  # noqa: BLE001 - shutting down: the process exits next
                log.info("the HTTP port did not close cleanly")
        self.loop.call_soon_threadsafe(self.loop.stop)
