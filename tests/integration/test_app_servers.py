"""The WSGI app under a real gunicorn and the ASGI app under a real uvicorn.

Each server runs as its own process on a loopback port and is hit by urllib
and http.client: the apps must behave there exactly as ``metrics_endpoint``
says (negotiation, gzip, HEAD, 404, 405, redirect).
"""

from __future__ import annotations

import gzip
import http.client
import sys
from pathlib import Path

import pytest

from atomicmetrics import generate_openmetrics, generate_text
from atomicmetrics.exposition import CONTENT_TYPE_TEXT
from atomicmetrics.openmetrics import CONTENT_TYPE_OPENMETRICS
from tests.helpers import answers, free_port, http_get, running, wait_until
from tests.integration.apps import COLLECTOR

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def server_argv(kind: str, port: int) -> list[str]:
    if kind == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "1",
            "--chdir", str(ROOT),
            "tests.integration.apps:wsgi_app",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--app-dir", str(ROOT),
        "--log-level", "warning",
        "tests.integration.apps:asgi_app",
    ]  # fmt: skip


def raw(port: int, method: str, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_real_server_serves_metrics(kind: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(server_argv(kind, port), cwd=ROOT) as proc:
        wait_until(lambda: answers(f"{base}/metrics"), f"{kind} to answer", proc=proc)

        status, headers, body = http_get(f"{base}/metrics")
        assert (status, headers["Content-Type"]) == (200, CONTENT_TYPE_TEXT)
        assert body == generate_text(COLLECTOR)

        status, headers, body = http_get(
            f"{base}/metrics",
            {"Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"},
        )
        assert status == 200
        assert headers["Content-Type"] == CONTENT_TYPE_OPENMETRICS
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == generate_openmetrics(COLLECTOR)

        head = raw(port, "HEAD", "/metrics")
        assert head.status == 200
        assert int(head.headers["Content-Length"]) == len(generate_text(COLLECTOR))

        assert http_get(f"{base}/nope")[0] == 404
        post = raw(port, "POST", "/metrics")
        assert (post.status, post.headers["Allow"]) == (405, "GET, HEAD")
        root = raw(port, "GET", "/")
        assert (root.status, root.headers["Location"]) == (302, "/metrics")
        assert proc.poll() is None
