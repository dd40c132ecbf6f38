"""prometheus_client.asgi: an ASGI app serving a registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from atomicmetrics.prometheus_client import exposition
from atomicmetrics.prometheus_client.registry import REGISTRY

__all__ = ["make_asgi_app"]

AsgiApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Any]],
    Awaitable[None],
]


def _header(scope: dict[str, Any], wanted: str) -> str:
    """The values of one request header, comma-joined (names compared case-blind)."""
    return ",".join(
        [
            value.decode("utf8")
            for name, value in scope.get("headers", ())
            if name.decode("utf8").lower() == wanted
        ]
    )


def make_asgi_app(registry: Any = REGISTRY, disable_compression: bool = False) -> AsgiApp:
    """An ASGI app serving ``registry`` on every path of an HTTP scope.

    Content negotiation, gzip and ``?name[]=`` as in ``make_wsgi_app``. The
    scrape is rendered in the event loop's thread (it never blocks on
    recording; its cost is proportional to the number of series).
    """

    async def prometheus_app(
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Any],
    ) -> None:
        if scope.get("type") != "http":
            raise ValueError(f"the metrics app serves HTTP scopes only, not {scope.get('type')!r}")
        query = scope.get("query_string", b"")
        params = parse_qs(query.decode("latin-1") if isinstance(query, bytes) else query)
        status, headers, output = exposition._bake_output(
            registry,
            _header(scope, "accept"),
            _header(scope, "accept-encoding"),
            params,
            disable_compression,
        )
        message = await receive()
        if message.get("type") == "http.request":
            await send(
                {
                    "type": "http.response.start",
                    "status": int(status.split(" ")[0]),
                    "headers": [(k.encode("utf8"), v.encode("utf8")) for k, v in headers],
                }
            )
            await send({"type": "http.response.body", "body": output})

    return prometheus_app
