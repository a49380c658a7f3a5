"""Native password authentication against the catalog's users.

An unknown user is answered exactly like a wrong password (1045, same text): mysql-mimic's stock
"User x does not exist" (3162) would tell a stranger which accounts exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

from mysql_mimic.auth import (
    AuthInfo,
    AuthPlugin,
    AuthState,
    Forbidden,
    IdentityProvider,
    NativePasswordAuthPlugin,
    User,
)

from doris_br.fe.catalog import User as CatalogUser
from doris_br.server.connection import client_host


class DorisNativePassword(NativePasswordAuthPlugin):
    async def auth(self, auth_info: AuthInfo | None = None) -> AuthState:
        state = super().auth(auth_info)
        info = auth_info
        decision: Any = await state.__anext__()
        while True:
            if isinstance(decision, Forbidden):
                assert info is not None
                using = "YES" if info.data else "NO"
                who = f"'{info.username}'@'{client_host.get()}'"
                yield Forbidden(f"Access denied for user {who} (using password: {using})")
                return
            if not isinstance(decision, bytes):
                yield decision
                return
            info = yield decision
            decision = await state.asend(info)


class CatalogIdentityProvider(IdentityProvider):
    def __init__(self, find_user: Callable[[str], CatalogUser | None]) -> None:
        self._find_user = find_user
        self._plugin = DorisNativePassword()

    def get_plugins(self) -> Sequence[AuthPlugin]:
        return [self._plugin]

    async def get_user(self, username: str) -> User | None:
        user = self._find_user(username)
        if user is None:
            # A decoy that no password matches, so the failure is indistinguishable from a wrong password.
            return User(name=username, auth_string=secrets.token_hex(20), auth_plugin=self._plugin.name)
        return User(name=user.name, auth_string=user.auth_string, auth_plugin=self._plugin.name)
