"""``/metrics`` as a WSGI application, for gunicorn, uWSGI, Flask, Django...

Mount it at the root of its own server, or under a prefix of an existing app
(``werkzeug``'s ``DispatcherMiddleware(app, {"/metrics": make_wsgi_app()})``):
see ``atomicmetrics.metrics_endpoint`` for the paths, methods and headers it
answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from atomicmetrics.metrics_endpoint import metrics_response
from atomicmetrics.registry import REGISTRY
from atomicmetrics.samples import Collector

__all__ = ["WSGIApp", "make_wsgi_app"]

StartResponse = Callable[[str, list[tuple[str, str]]], object]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(registry: Collector = REGISTRY) -> WSGIApp:
    """Return a WSGI app serving ``registry`` at ``/metrics``.

    The app is thread-safe and keeps no state; each ``GET`` renders the
    registry afresh in the calling worker thread. Exceptions raised while
    collecting propagate to the WSGI server (which answers 500). The request
    body is never read.
    """

    def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = metrics_response(
            registry,
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", ""),
            environ.get("HTTP_ACCEPT"),
            environ.get("HTTP_ACCEPT_ENCODING"),
            mounted=bool(environ.get("SCRIPT_NAME")),
        )
        start_response(response.status_line, list(response.headers))
        return [response.body]

    return metrics_app
