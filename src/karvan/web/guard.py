"""The dashboard's outer guard, an ASGI middleware in front of every route.


- **Host**: a request whose ``Host`` header is not one of the allowed names is refused (400)
  before any route runs. A page on another site that rebinds its DNS name to 127.0.0.1 can make
  the browser send requests here, but with its own name in ``Host``: this stops it.
- **Body size**: a request body longer than the limit is refused (413), from its
  ``Content-Length`` before reading, or while reading when it has none (chunked).
- **Nesting**: a JSON body nested deeper than the limit is refused (422) before it is parsed
  (Python's parser would hit the recursion limit).
- **Other sites' pages**: a request that changes anything (any method but GET, HEAD and
  OPTIONS) must send JSON (``application/json``; 415 otherwise: a page on another site can post
  ``text/plain`` or a form without the browser asking first) and must not come from another
  origin: ``Sec-Fetch-Site``, which browsers send, must be ``same-origin`` (then the page is
  the dashboard's own, also behind a reverse proxy that rewrites ``Host``) or ``none``; without
  it an ``Origin`` header, when there is one, must name this server (``null`` does not); 403
  otherwise. One check for every route, so that a route added later is covered too.
- **Framing and sniffing**: every answer says that no other site may frame the dashboard
  (``Content-Security-Policy: frame-ancestors 'self'``, ``X-Frame-Options``: a framed page's
  clicks would carry the dashboard's own origin) and that its content types are meant
  (``X-Content-Type-Options: nosniff``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: most bytes of a request body (the scenario form of the whole corridor is about 20 kB)
MAX_BODY_BYTES = 256 * 1024
#: deepest nesting of a JSON body (the scenario form needs 3)
MAX_JSON_DEPTH = 16
#: names that always mean this machine
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: methods that change nothing (every other one is checked for its origin and content type)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: headers added to every answer
SECURITY_HEADERS = ((b"content-security-policy", b"frame-ancestors 'self'"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"x-content-type-options", b"nosniff"))


def foreign_origin(headers: dict[str, str]) -> str | None:
    """Why a request that changes something comes from another site's page, or None.

    Examples
    --------
    >>> h = {"host": "127.0.0.1:8000"}
    >>> foreign_origin({**h, "origin": "http://127.0.0.1:8000"}) is None
    True
    >>> foreign_origin({**h, "origin": "http://evil.example"})
    'its Origin is http://evil.example'
    >>> foreign_origin({**h, "origin": "null"})
    'its Origin is null'
    >>> foreign_origin({**h, "sec-fetch-site": "same-site"})
    'the browser says it comes from a same-site page (Sec-Fetch-Site)'
    >>> foreign_origin({**h, "origin": "https://karvan.example", "sec-fetch-site": "same-origin"})
    """
    origin = headers.get("origin")
    host = headers.get("host", "").strip().lower()
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site == "same-origin":
        # the browser's own word: behind a reverse proxy the Host the server sees (127.0.0.1:8000)
        # is not the page's origin (https://karvan.example), and the page's own posts were refused
        return None
    if origin is not None:
        scheme, _, rest = origin.strip().lower().partition("://")
        if scheme not in ("http", "https") or rest.rstrip("/") != host:
            return f"its Origin is {origin}"
    if site and site != "none":
        return f"the browser says it comes from a {site} page (Sec-Fetch-Site)"
    return None


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header without its port, lower case, IPv6 without brackets.

    Examples
    --------
    >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def allowed_hosts(bound: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """127.0.0.1, localhost and ::1, the address the server is bound to (unless it is a
    wildcard such as 0.0.0.0) and ``extra`` names."""
    names = set(LOOPBACK_NAMES) | {host_name(e) for e in extra if e}
    if bound:
        b = host_name(bound)
        try:
            wildcard = ipaddress.ip_address(b).is_unspecified
        except ValueError:
            wildcard = False
        if not wildcard:
            names.add(b)
    return frozenset(names)


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the brackets of a JSON text nest deeper than ``limit`` (strings skipped).

    Examples
    --------
    >>> json_depth_exceeds(b'{"a": [[1]], "b": "[[[[["}', limit=3)
    False
    >>> json_depth_exceeds(b'[' * 5 + b']' * 5, limit=4)
    True
    """
    depth = 0
    in_string = escaped = False
    for c in body:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:  # quote
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif c in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


class Guard:
    """ASGI middleware: allowed hosts, body size and JSON nesting (see the module).

    Parameters
    ----------
    app
        The application behind the guard.
    hosts
        Allowed host names (:func:`allowed_hosts`).
    max_body_bytes
        Longest request body.
    max_json_depth
        Deepest nesting of a JSON request body.
    """

    def __init__(self, app: ASGIApp, *, hosts: Iterable[str],
                 max_body_bytes: int = MAX_BODY_BYTES,
                 max_json_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.hosts = frozenset(host_name(h) for h in hosts)
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request, then pass it on (its body replayed) or answer it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inner_send = send

        async def send(message: Message) -> None:  # noqa: F811  (every answer gets them)
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [
                    *message.get("headers", []),
                    *((k, v) for k, v in SECURITY_HEADERS if k not in have)]}
            await inner_send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = host_name(headers.get("host", ""))
        if host not in self.hosts:
            await _answer(send, 400, f"Host {host!r} is not served here: the dashboard answers "
                                     f"to {', '.join(sorted(self.hosts))}. (karvan serve "
                                     "--allow-host NAME adds a name.)")
            return
        length = headers.get("content-length")
        if length is not None:
            try:
                too_long = int(length) > self.max_body_bytes
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number.")
                return
            if too_long:
                await _answer(send, 413, self._too_large())
                return
        if scope.get("method") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        foreign = foreign_origin(headers)
        if foreign is not None:
            await _answer(send, 403, f"a request that changes something is accepted from the "
                                     f"dashboard's own pages only, and {foreign}; use the "
                                     "dashboard's page (or send no Origin, as curl does).")
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            await _answer(send, 415, f"send the request body as application/json (it came as "
                                     f"{ctype or 'no content type'}).")
            return
        # read the whole body (it is small), check it, then replay it to the app
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await _answer(send, 413, self._too_large())
                return
            chunks.append(body)
            if not msg.get("more_body", False):
                break
        data = b"".join(chunks)
        if json_depth_exceeds(data, self.max_json_depth):
            await _answer(send, 422, f"the JSON body nests deeper than {self.max_json_depth} "
                                     "levels; the scenario form needs 3.")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return (f"the request body is larger than {self.max_body_bytes // 1024} kB; the "
                "scenario form of the whole corridor is far smaller.")


async def _answer(send: Send, status: int, message: str) -> None:
    """A JSON error answer in the dashboard's format (``detail`` and ``problems``)."""
    body = json.dumps({"detail": message, "problems": [message]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
