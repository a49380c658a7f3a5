"""The FE's HTTP server: one aiohttp application in the FE's event loop."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from doris_br.http import api, console
from doris_br.http.auth import Sessions
from doris_br.http.compaction import compaction_show
from doris_br.http.relay import MAX_BODY
from doris_br.http.stream_load import expect_continue, load_error_log, stream_load


def build_app(fe: Any) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app["fe"] = fe
    app["sessions"] = Sessions()
    app.router.add_put("/api/{db}/{table}/_stream_load", stream_load, expect_handler=expect_continue)
    # as the doris-stream-load package sends it
    app.router.add_put("/api/{db}/{table}/_stream_load/", stream_load, expect_handler=expect_continue)
    app.router.add_get("/api/_load_error_log", load_error_log)
    app.router.add_get("/api/compaction/show", compaction_show)
    api.add_routes(app)
    console.add_routes(app)
    return app


async def start_http(fe: Any, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve on host:port (0 picks a free port); the runner (to clean up) and the bound port."""
    runner = web.AppRunner(build_app(fe), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server is not None and server.sockets else port
    return runner, bound
