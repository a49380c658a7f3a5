"""What the FE's Stream Load handler and a BE's HTTP relay (doris_br/be/http.py) share: the header that marks a
relayed load, the body limit, and which headers travel across a hop.

With fe.conf stream_load_redirect_to_be, the FE answers a Stream Load with 307 and a Location on a BE, as Doris's
FE does; the BE does not load anything itself but sends the request on to the FE, which loads it. The FE must then
load it rather than redirect it again: the BE marks the request with a token that the FE told it in its heartbeats
(a client cannot guess it, so it cannot make the FE skip its redirect either; not that it would gain anything).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from multidict import CIMultiDict

# Stream Load bodies can be large (Doris's default streaming_load_max_mb is 10 GB).
MAX_BODY = 10 << 30
RELAY_HEADER = "X-Doris-BR-Relay"
# Headers of one connection, never sent on (RFC 9110 section 7.6.1), and those the relay sets itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "expect", "host", "content-length", RELAY_HEADER.lower(),
})


def is_relayed(headers: Mapping[str, str], token: str) -> bool:
    """Whether a request came through a BE's relay: it carries the FE's token (compared in constant time)."""
    sent = headers.get(RELAY_HEADER, "")
    return bool(token) and bool(sent) and hmac.compare_digest(sent.encode(), token.encode())


def end_to_end(headers: CIMultiDict[str] | Mapping[str, str]) -> CIMultiDict[str]:
    """The headers that go on to the next hop: not hop-by-hop ones, nor those the Connection header names."""
    named = {name.strip().lower() for name in headers.get("Connection", "").split(",") if name.strip()}
    items: Iterable[tuple[str, str]] = headers.items()
    return CIMultiDict((k, v) for k, v in items if k.lower() not in HOP_BY_HOP and k.lower() not in named)
