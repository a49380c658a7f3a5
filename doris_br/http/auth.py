"""HTTP authentication against the catalog's users: Basic auth (as Doris's HTTP port) or the console's cookie.

The same users and passwords as the MySQL port: a password is right when SHA1(SHA1(password)) matches the
stored auth string. An unknown user is refused exactly like a wrong password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from typing import Any

import attrs
from aiohttp import web

from doris_br.fe.catalog import User, password_hash

COOKIE = "doris_br_session"
SESSION_TTL_S = 8 * 3600


@attrs.frozen
class Login:
    """One console login: whose, until when, and the user as it was then (`binding`)."""

    user_key: str
    expires: float
    binding: str


def _binding(user: User) -> str:
    """What a login is bound to: the user's password hash and incarnation, so that SET PASSWORD, DROP USER and
    a user created again under the same name end it."""
    return hashlib.sha256(f"{user.key}\0{user.auth_string}\0{user.incarnation}".encode()).hexdigest()


class Sessions:
    """Console logins: a random token per login, kept in memory (a restart logs everyone out)."""

    def __init__(self) -> None:
        self._logins: dict[str, Login] = {}

    def create(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        self._logins[token] = Login(user.key, time.time() + SESSION_TTL_S, _binding(user))
        return token

    def user(self, fe: Any, token: str | None) -> User | None:
        """The token's user, if its login has not expired and the user is still the one who logged in."""
        login = self._logins.get(token or "")
        if login is None:
            return None
        user = fe.catalog.get(User, login.user_key)
        if login.expires < time.time() or user is None or not hmac.compare_digest(login.binding, _binding(user)):
            self._logins.pop(token or "", None)
            return None
        return fe.catalog.acting_user(user)

    def drop(self, token: str | None) -> None:
        self._logins.pop(token or "", None)


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
        user = request.app["sessions"].user(fe, request.cookies.get(COOKIE))
        if user is not None:
            return user, "cookie"
    raise AuthFailed("Authentication required: use HTTP basic auth with a doris-br user")
