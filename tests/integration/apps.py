"""Apps the real-server tests load by import path (``tests.integration.apps:...``)."""

from __future__ import annotations

from atomicmetrics import make_asgi_app, make_wsgi_app
from atomicmetrics.samples import MetricFamily, Sample
from tests.exposition_helpers import StaticCollector, histogram_samples

COLLECTOR = StaticCollector(
    [
        MetricFamily("srv_jobs", "counter", "Jobs.", (Sample("srv_jobs_total", (("q", "a"),), 7),)),
        MetricFamily(
            "srv_latency_seconds",
            "histogram",
            "Latency.",
            tuple(histogram_samples("srv_latency_seconds", (), (0.5,), [1, 1], 0.75)),
        ),
    ]
)

wsgi_app = make_wsgi_app(COLLECTOR)
asgi_app = make_asgi_app(COLLECTOR)
