"""A Flask service instrumented by prometheus-flask-exporter, on the facade.

``install()`` runs before anything imports prometheus_client. Served by
gunicorn in tests/compat/test_frameworks.py.
"""

import atomicmetrics.prometheus_client

atomicmetrics.prometheus_client.install()

import prometheus_client  # noqa: E402
from flask import Flask, abort  # noqa: E402
from prometheus_flask_exporter import PrometheusMetrics  # noqa: E402

app = Flask(__name__)
metrics = PrometheusMetrics(app)
GREETINGS = prometheus_client.Counter("greetings", "Greetings sent.", ["lang"])


@app.route("/hello/<name>")
def hello(name: str) -> str:
    if name == "nobody":
        abort(404)
    GREETINGS.labels("en").inc()
    return f"hello {name}"


@app.route("/which")
def which() -> str:
    return prometheus_client.__name__
