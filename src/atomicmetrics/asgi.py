"""``/metrics`` as a pure ASGI 3 application, for uvicorn, hypercorn, Starlette...

No framework is imported: the app speaks the ASGI protocol directly. It
answers ``http`` scopes as described in ``atomicmetrics.metrics_endpoint``
(mounted under a prefix when ``root_path`` is set, e.g. Starlette's
``app.mount("/metrics", make_asgi_app())``), completes the ``lifespan``
protocol, and refuses ``websocket`` connections (the server answers 403).

The core package never imports this module at import time;
``atomicmetrics.make_asgi_app`` loads it on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from atomicmetrics.metrics_endpoint import metrics_response
from atomicmetrics.registry import REGISTRY
from atomicmetrics.samples import Collector

__all__ = ["ASGIApp", "make_asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    """All values of request header ``name`` (lower-case), comma-joined."""
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]
    return ",".join(values) if values else None


def _relative_path(scope: Scope) -> tuple[str, bool]:
    """The request path below the mount point, and whether there is one.

    Servers differ on whether ``path`` includes ``root_path``; both are read
    the same way.
    """
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :]
    return path, bool(root)


def make_asgi_app(registry: Collector = REGISTRY) -> ASGIApp:
    """Return an ASGI app serving ``registry`` at ``/metrics``.

    The app keeps no state. Rendering is synchronous and runs on the event
    loop's thread (a registry of 100,000 series takes up to a second
    there, docs/exposition.md); exceptions raised while collecting propagate to the
    ASGI server (which answers 500). The request body is never read.
    """

    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path, mounted = _relative_path(scope)
            response = metrics_response(
                registry,
                scope.get("method", "GET"),
                path,
                _header(scope, b"accept"),
                _header(scope, b"accept-encoding"),
                mounted=mounted,
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in response.headers],
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1000})
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    return metrics_app
