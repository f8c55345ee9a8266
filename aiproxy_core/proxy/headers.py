"""Which headers cross the proxy, in each direction, and which the gateway adds."""

from __future__ import annotations

from typing import Iterable, Sequence

from starlette.datastructures import MutableHeaders

#: RFC 9110 §7.6.1 hop-by-hop headers: they describe one connection, never the message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Set by the gateway itself, or secrets of the client that the upstream must not see.
_NOT_FORWARDED_UP = HOP_BY_HOP | {"host", "content-length", "authorization", "x-api-key"}
_NOT_FORWARDED_UP_IDENTITY = _NOT_FORWARDED_UP | {"accept-encoding"}
_NOT_PASSED_DOWN_BYTES = frozenset(name.encode() for name in HOP_BY_HOP | {"content-length"})


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Headers named in ``Connection`` are hop-by-hop for this message too."""
    tokens: set[str] = set()
    for name, value in headers:
        if name == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


#: Headers that say where a request came from: believed only from a trusted proxy, and
#: otherwise replaced by the gateway's own view (a client could write anything in them).
_FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip"})


def upstream_request_headers(
    headers: MutableHeaders,
    *,
    client_ip: str | None,
    peer: str | None,
    peer_trusted: bool,
    host: str | None,
    scheme: str,
    request_id: str,
    extra: dict[str, str],
    identity_encoding: bool,
    via: str,
) -> list[tuple[str, str]]:
    """The header list sent upstream: client headers minus hop-by-hop and credentials, plus
    ``X-Forwarded-*``, ``Via``, ``X-Request-ID`` and the rule's ``upstream_headers``.

    From a peer in ``server.trusted_proxies`` the forwarding headers it set are kept (the peer
    is appended to ``X-Forwarded-For``); from anyone else they are dropped and the gateway writes
    its own, so the upstream never sees a client's claim ahead of the gateway's word. ``via`` is
    this deployment's ``Via`` entry, which marks the request as having passed this gateway.
    """
    items = headers.items()
    # The client's Accept-Encoding is dropped with the rest when a hook reads the answer, so the
    # list is walked once.
    dropped = (_NOT_FORWARDED_UP_IDENTITY if identity_encoding else _NOT_FORWARDED_UP) | _connection_tokens(items) | {k.lower() for k in extra}
    out: list[tuple[str, str]] = []
    forwarded_for = None
    kept_forwarding: set[str] = set()
    previous_via = None
    for name, value in items:
        if name in dropped or name == "x-request-id":
            continue
        if name in _FORWARDING:
            if not peer_trusted:
                continue
            if name == "x-forwarded-for":
                forwarded_for = f"{forwarded_for}, {value}" if forwarded_for else value
                continue
            kept_forwarding.add(name)
        elif name == "via":
            previous_via = f"{previous_via}, {value}" if previous_via else value
            continue
        out.append((name, value))
    if peer:
        forwarded_for = f"{forwarded_for}, {peer}" if forwarded_for else peer
    elif client_ip:
        forwarded_for = client_ip
    if forwarded_for:
        out.append(("x-forwarded-for", forwarded_for))
    if host and "x-forwarded-host" not in kept_forwarding:
        out.append(("x-forwarded-host", host))
    if "x-forwarded-proto" not in kept_forwarding:
        out.append(("x-forwarded-proto", scheme))
    out.append(("via", f"{previous_via}, {via}" if previous_via else via))
    out.append(("x-request-id", request_id))
    if identity_encoding:
        out.append(("accept-encoding", "identity"))
    out.extend(extra.items())
    return out


def downstream_headers(raw: Sequence[tuple[bytes, bytes]]) -> MutableHeaders:
    """The upstream's response headers minus hop-by-hop ones, Content-Length (set on send) and
    the gateway's own ``X-AIProxy-*`` (an upstream, or a gateway in front of it, must not speak
    for this one: a cost or target it sent would read as this gateway's). One pass over bytes: no
    name is decoded."""
    kept = []
    named: set[bytes] | None = None  # the headers Connection names are hop-by-hop for this message
    for name, value in raw:
        name = name.lower()
        if name in _NOT_PASSED_DOWN_BYTES or name.startswith(b"x-aiproxy-"):
            if name == b"connection":
                named = (named or set()) | {token.strip().lower() for token in value.split(b",") if token.strip()}
            continue
        kept.append((name, value))
    if named:
        kept = [(name, value) for name, value in kept if name not in named]
    return MutableHeaders(raw=kept)
