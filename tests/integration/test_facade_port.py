"""A prometheus_client program ported by changing one import exposes the same metrics.

The same service runs twice in fresh interpreters: as written (with
prometheus_client 0.21.1) and with its one import line changed to
``atomicmetrics.prometheus_client``. Each serves ``/metrics`` with
``start_http_server`` and scrapes itself over HTTP in both formats; the
families, names, types, labels and values must agree (``_created`` times and
the process collector's readings are compared by name only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

PROGRAM = textwrap.dedent(
    """
    import json
    import random
    import urllib.request

    from prometheus_client import (
        Counter, Enum, Gauge, Histogram, Info, Summary, start_http_server,
    )
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
    from prometheus_client.parser import text_string_to_metric_families as text

    REQUESTS = Counter("app_requests", "Requests handled.", ["route", "code"])
    ERRORS = Counter("app_errors_total", "Failed requests.", ["kind"])
    IN_FLIGHT = Gauge("app_in_flight", "Requests in flight.")
    QUEUE = Gauge("queue_depth", "Items waiting.", ["queue"], namespace="app")
    LATENCY = Histogram("app_latency_seconds", "Latency.", ["route"], buckets=[0.01, 0.1, 1])
    PAYLOAD = Summary("app_payload", "Payload sizes.", unit="bytes")
    BUILD = Info("app_build", "Build information.")
    STATE = Enum("app_state", "Service state.", states=["starting", "ready", "draining"])
    BUILD.info({"version": "1.4.2", "commit": "abc123"})
    rng = random.Random(42)


    @IN_FLIGHT.track_inprogress()
    def handle(route):
        LATENCY.labels(route).observe(rng.choice([0.005, 0.05, 0.5, 5.0]))
        PAYLOAD.observe(rng.randrange(100, 5000))
        with ERRORS.labels("timeout").count_exceptions(TimeoutError):
            if rng.random() < 0.1:
                raise TimeoutError
        REQUESTS.labels(route, "200").inc()


    STATE.state("ready")
    for i in range(500):
        try:
            handle(rng.choice(["/", "/items", "/users/{id}"]))
        except TimeoutError:
            REQUESTS.labels("/", "504").inc()
    QUEUE.labels("email").set(17)
    QUEUE.labels("sms").inc(3)
    QUEUE.labels("sms").dec(0.5)

    server, thread = start_http_server(0, addr="127.0.0.1")
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    plain = urllib.request.urlopen(url, timeout=10).read().decode()
    request = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text"})
    openmetrics = urllib.request.urlopen(request, timeout=10).read().decode()
    server.shutdown()


    def shape(families):
        out = []
        for m in families:
            for s in m.samples:
                value = s.value
                if s.name.endswith("_created") or m.name.startswith(("process_", "python_gc_")):
                    value = None
                out.append([m.name, m.type, m.unit, m.documentation, s.name,
                            sorted(s.labels.items()), value])
        return out


    print(json.dumps({"text": shape(text(plain)), "openmetrics": shape(om(openmetrics))}))
    """
)

IMPORT = "from prometheus_client import ("


def run(source: str) -> dict[str, list[list[object]]]:
    proc = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, list[list[object]]] = json.loads(proc.stdout)
    return result


def test_one_import_changed_same_metrics() -> None:
    assert PROGRAM.count(IMPORT) == 1
    ported = PROGRAM.replace(IMPORT, "from atomicmetrics.prometheus_client import (")
    original = run(PROGRAM)
    facade = run(ported)
    for fmt in ("text", "openmetrics"):
        assert facade[fmt] == original[fmt], fmt
    names = {row[4] for row in facade["text"]}
    assert {"app_requests_total", "app_errors_total", "app_latency_seconds_bucket"} <= names
    assert {"app_payload_bytes_sum", "app_build_info", "app_state", "app_queue_depth"} <= names
