"""The WSGI app of the gunicorn integration test: one rule metric per request."""

from __future__ import annotations

import os
import time
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
        # A sync worker serves one request at a time: holding it 5 ms makes
        # the test's concurrent clients land on several workers even when one
        # worker would otherwise win every accept() on a busy machine.
        time.sleep(0.005)
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
