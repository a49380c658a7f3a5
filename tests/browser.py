"""Headless Chromium driven through the Chrome DevTools Protocol (a websocket), for the console tests.

Debian's `chromium` package (./run.sh test installs it); no network access is needed or used.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrowserError(Exception):
    """Chromium did not start or a page did not answer in time."""


class Browser:
    def __init__(self, log: Path) -> None:
        binary = chromium_path()
        if binary is None:
            raise BrowserError("chromium is missing: run the tests through ./run.sh test")
        self.profile = Path(tempfile.mkdtemp(prefix="doris-br-chromium-"))
        port = _free_port()
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--remote-debugging-port={port}", "about:blank"],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        target = None
        deadline = time.time() + 30
        while target is None and time.time() < deadline:
            try:
                pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                target = next((p for p in pages if p.get("type") == "page"), None)
            except (requests.RequestException, ValueError):
                target = None  # DevTools is not listening yet
            if target is None:
                if self.proc.poll() is not None:
                    raise BrowserError(f"chromium exited with {self.proc.returncode}; see {log}")
                time.sleep(0.1)
        if target is None:
            self.close()
            raise BrowserError(f"chromium did not start; see {log}")
        # Entered as a context manager: websockets 17 wants that; older ones return the connection itself.
        self._ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10).__enter__()
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.time() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.time())))
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20.0) -> Any:
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.eval(expression)
            except BrowserError:  # the page is navigating
                last = None
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError(f"{expression} stayed {last!r} for {timeout}s")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_loaded()

    def wait_loaded(self) -> None:
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'")

    def path(self) -> str:
        return self.eval("location.pathname")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
