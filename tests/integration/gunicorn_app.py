"""The WSGI app of the gunicorn integration test: one rule metric per request."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from atomicmetrics import make_wsgi_app
from atomicmetrics.multiprocess import MultiProcessRegistry

registry = MultiProcessRegistry.from_env()  # in the master with preload_app, else per worker
requests = registry.rule_execution("requests", "Requests served.", ("path",))
metrics = make_wsgi_app(registry)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/metrics":
        return metrics(environ, start_response)
    with requests.labels(path).time():
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
