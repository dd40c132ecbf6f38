"""The Flask service of flask_app.py for gunicorn workers sharing their metrics.

``GunicornInternalPrometheusMetrics`` serves ``/metrics`` from a registry
with ``MultiProcessCollector``: with ``PROMETHEUS_MULTIPROC_DIR`` set, every
worker's metrics live in the facade's shared arena and any worker's answer
counts every worker's requests.
"""

import atomicmetrics.prometheus_client

atomicmetrics.prometheus_client.install()

import prometheus_client  # noqa: E402
from flask import Flask  # noqa: E402
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics  # noqa: E402

app = Flask(__name__)
metrics = GunicornInternalPrometheusMetrics(app)


@app.route("/hello/<name>")
def hello(name: str) -> str:
    return f"hello {name}"


@app.route("/which")
def which() -> str:
    return prometheus_client.__name__
