"""Apps the real-server tests load by import path (``tests.integration.apps:...``)."""

from __future__ import annotations

from atomicmetrics import Registry, make_asgi_app, make_wsgi_app

COLLECTOR = Registry()
COLLECTOR.counter("srv_jobs", "Jobs.", ["q"]).labels("a").inc(7)
_latency = COLLECTOR.histogram("srv_latency_seconds", "Latency.", buckets=[0.5])
_latency.observe(0.25)
_latency.observe(0.5)
_latency.observe(0.75)

wsgi_app = make_wsgi_app(COLLECTOR)
asgi_app = make_asgi_app(COLLECTOR)
