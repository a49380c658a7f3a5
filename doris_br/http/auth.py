"""HTTP authentication against the catalog's users: Basic auth (as Doris's HTTP port) or the console's cookie.

The same users and passwords as the MySQL port: a password is right when SHA1(SHA1(password)) matches the
stored auth string. An unknown user is refused exactly like a wrong password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from typing import Any

from aiohttp import web

from doris_br.fe.catalog import User, password_hash

COOKIE = "doris_br_session"
SESSION_TTL_S = 8 * 3600


class Sessions:
    """Console logins: a random token per login, kept in memory (a restart logs everyone out)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    def create(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (username, time.time() + SESSION_TTL_S)
        return token

    def username(self, token: str | None) -> str | None:
        if not token:
            return None
        found = self._tokens.get(token)
        if found is None or found[1] < time.time():
            self._tokens.pop(token or "", None)
            return None
        return found[0]

    def drop(self, token: str | None) -> None:
        self._tokens.pop(token or "", None)


def check_password(fe: Any, username: str, password: str) -> User | None:
    user = fe.find_user(username)
    expected = user.auth_string if user is not None else secrets.token_hex(20)
    if not hmac.compare_digest(password_hash(password), expected):
        return None
    return user


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = text.partition(":")
    return (username, password) if sep else None


class AuthFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def unauthorized(e: AuthFailed) -> web.Response:
    """HTTP's 401 with Doris's JSON body, asking for basic auth."""
    return web.json_response({"status": "FAILED", "msg": e.message}, status=401,
                             headers={"WWW-Authenticate": 'Basic realm="doris-br"'})


def authenticate(request: web.Request, allow_cookie: bool = True) -> tuple[User, str]:
    """The request's user and how it proved it ("basic" or "cookie"); AuthFailed otherwise."""
    fe = request.app["fe"]
    creds = basic_credentials(request)
    if creds is not None:
        user = check_password(fe, *creds)
        if user is None:
            using = "YES" if creds[1] else "NO"
            raise AuthFailed(f"Access denied for user '{creds[0]}'@'{request.remote}' (using password: {using})")
        return user, "basic"
    if allow_cookie:
        name = request.app["sessions"].username(request.cookies.get(COOKIE))
        if name is not None:
            user = fe.find_user(name)
            if user is not None:
                return user, "cookie"
    raise AuthFailed("Authentication required: use HTTP basic auth with a doris-br user")
