"""``MetricsResource(registry)``: a Twisted resource serving the WSGI metrics app."""

from __future__ import annotations

import importlib
from typing import Any

from atomicmetrics.prometheus_client import exposition
from atomicmetrics.prometheus_client.registry import REGISTRY

__all__ = ["MetricsResource"]

# Imported by name: Twisted is an optional dependency the type checker may not see.
reactor: Any = importlib.import_module("twisted.internet.reactor")
_WSGIResource: Any = importlib.import_module("twisted.web.wsgi").WSGIResource


def MetricsResource(registry: Any = REGISTRY) -> Any:
    """A ``WSGIResource`` on the reactor's thread pool serving ``registry``."""
    return _WSGIResource(reactor, reactor.getThreadPool(), exposition.make_wsgi_app(registry))
