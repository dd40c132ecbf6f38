"""Framework integrations from PyPI run unchanged on the facade after ``install()``.

prometheus-fastapi-instrumentator under a real uvicorn and
prometheus-flask-exporter under a real gunicorn, each in its own process
with ``atomicmetrics.prometheus_client.install()`` at the top of the app
module (tests/compat/fastapi_app.py, flask_app.py). Real HTTP requests drive
them; their ``/metrics`` must come from the facade, count those requests,
pass ``promtool check metrics`` and be scraped by a real Prometheus whose
query API then returns the same counts.

The frameworks live in the ``compat-test`` extra, which ``.ci/run``'s compat
step installs in a venv of its own; elsewhere these tests skip, unless
``ATOMICMETRICS_REQUIRE_COMPAT=1`` makes a missing framework a failure.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import (
    answers,
    free_port,
    http_get,
    prometheus_server,
    promtool_check,
    query,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def need(module: str) -> None:
    """Skip without ``module``, or fail when the compat step requires it."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("ATOMICMETRICS_REQUIRE_COMPAT") == "1":
            pytest.fail(f"{module} is not installed (pip install 'atomicmetrics[compat-test]')")
        pytest.skip(f"{module} is not installed (pip install 'atomicmetrics[compat-test]')")


def serve(argv: list[str], port: int, multiproc_dir: Path | None = None) -> Iterator[str]:
    """Run an app server from the repository root; yield its base URL once it answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if multiproc_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc_dir)
    base = f"http://127.0.0.1:{port}"
    with running(argv, cwd=ROOT, env=env) as proc:
        wait_until(lambda: answers(base + "/which"), "the app server", proc=proc)
        yield base


@pytest.fixture
def fastapi_app() -> Iterator[str]:
    need("prometheus_fastapi_instrumentator")
    need("uvicorn")
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "tests.compat.fastapi_app:app"]
    yield from serve([*argv, "--host", "127.0.0.1", "--port", str(port)], port)


def gunicorn(workers: int, port: int) -> list[str]:
    need("prometheus_flask_exporter")
    need("gunicorn")
    return [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]


@pytest.fixture
def flask_app() -> Iterator[str]:
    port = free_port()
    yield from serve([*gunicorn(1, port), "tests.compat.flask_app:app"], port)


@pytest.fixture
def flask_workers(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    multiproc_dir = tmp_path / "multiproc"
    multiproc_dir.mkdir()
    argv = [*gunicorn(2, port), "tests.compat.flask_mp_app:app"]
    yield from serve(argv, port, multiproc_dir)


def scrape(base: str) -> tuple[bytes, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """GET /metrics: the body and its samples parsed by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    status, headers, body = http_get(base + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    return body, samples


def prometheus_sees(tmp_path: Path, target: str, promql: str) -> float:
    """Start a real Prometheus scraping ``target``; the value of ``promql`` it then answers."""
    with prometheus_server(tmp_path, {"app": target}) as (base, proc):
        wait_until(lambda: query(base, 'up{job="app"} == 1'), "the app target up", proc=proc)
        result = wait_until(lambda: query(base, promql), promql, proc=proc)
        return sum(float(r["value"][1]) for r in result)


def test_fastapi_instrumentator_on_uvicorn(fastapi_app: str, tmp_path: Path) -> None:
    _, _, which = http_get(fastapi_app + "/which")
    assert json.loads(which) == {"prometheus_client": "atomicmetrics.prometheus_client"}
    for _ in range(5):
        assert http_get(fastapi_app + "/items/7")[0] == 200
    for _ in range(2):
        assert http_get(fastapi_app + "/items/0")[0] == 404
    body, samples = scrape(fastapi_app)
    route = ("handler", "/items/{item_id}")
    ok = frozenset({route, ("method", "GET"), ("status", "2xx")})
    missing = frozenset({route, ("method", "GET"), ("status", "4xx")})
    assert samples[("http_requests_total", ok)] == 5.0
    assert samples[("http_requests_total", missing)] == 2.0
    assert samples[("shop_orders_total", frozenset({("kind", "item")}))] == 5.0
    assert (
        samples[("http_request_duration_seconds_count", frozenset({route, ("method", "GET")}))]
        == 7.0
    )
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr

    target = fastapi_app.removeprefix("http://")
    seen = prometheus_sees(
        tmp_path, target, 'http_requests_total{handler="/items/{item_id}",status="2xx"}'
    )
    assert seen == 5.0


def test_flask_exporter_on_gunicorn(flask_app: str, tmp_path: Path) -> None:
    status, _, which = http_get(flask_app + "/which")
    assert status == 200
    assert which == b"atomicmetrics.prometheus_client"
    for _ in range(4):
        assert http_get(flask_app + "/hello/bob")[0] == 200
    assert http_get(flask_app + "/hello/nobody")[0] == 404
    body, samples = scrape(flask_app)
    hello = frozenset({("method", "GET"), ("status", "200"), ("path", "/hello/bob")})
    assert samples[("flask_http_request_duration_seconds_count", hello)] == 4.0
    which_path = frozenset({("method", "GET"), ("status", "200"), ("path", "/which")})
    probes = samples[("flask_http_request_duration_seconds_count", which_path)]  # /which calls
    total = frozenset({("method", "GET"), ("status", "200")})
    assert samples[("flask_http_request_total", total)] == 4.0 + probes
    assert samples[("greetings_total", frozenset({("lang", "en")}))] == 4.0
    assert samples[("flask_exporter_info", frozenset({("version", _exporter_version())}))] == 1.0
    check = promtool_check(body)
    assert check.returncode == 0, check.stdout + check.stderr

    target = flask_app.removeprefix("http://")
    seen = prometheus_sees(tmp_path, target, 'greetings_total{lang="en"}')
    assert seen == 4.0


def test_flask_exporter_gunicorn_workers_share_the_arena(flask_workers: str) -> None:
    """Two workers, one arena: whichever worker answers counts both workers' requests."""
    requests = 40
    for i in range(requests):
        assert http_get(f"{flask_workers}/hello/w{i}")[0] == 200
    total = frozenset({("method", "GET"), ("status", "200")})
    answers_seen = set()
    for _ in range(6):
        body, samples = scrape(flask_workers)
        # /which answered once per worker at start-up, then the requests.
        seen = samples[("flask_http_request_total", total)]
        assert requests < seen <= requests + 4
        answers_seen.add(seen)
        check = promtool_check(body)
        assert check.returncode == 0, check.stdout + check.stderr
    assert len(answers_seen) == 1  # every worker reported the same shared total


def _exporter_version() -> str:
    from importlib.metadata import version

    return version("prometheus-flask-exporter")
