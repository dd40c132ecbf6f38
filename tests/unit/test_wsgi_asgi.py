"""make_wsgi_app and make_asgi_app called in-process, as their servers would."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections.abc import MutableMapping
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

import atomicmetrics
from atomicmetrics import generate_openmetrics, generate_text, make_wsgi_app
from atomicmetrics.exposition import CONTENT_TYPE_TEXT
from atomicmetrics.openmetrics import CONTENT_TYPE_OPENMETRICS
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import StaticCollector

COLLECTOR = StaticCollector(
    [MetricFamily("jobs", "counter", "Jobs done.", (Sample("jobs_total", (("q", "a"),), 5),))]
)


def call_wsgi(
    method: str = "GET", path: str = "/metrics", script_name: str = "", **headers: str
) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": script_name,
    }
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    setup_testing_defaults(environ)
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen.append((status, response_headers))

    body = b"".join(make_wsgi_app(COLLECTOR)(environ, start_response))
    ((status, response_headers),) = seen
    return status, dict(response_headers), body


def test_wsgi_get_text() -> None:
    status, headers, body = call_wsgi()
    assert status == "200 OK"
    assert headers["Content-Type"] == CONTENT_TYPE_TEXT
    assert body == generate_text(COLLECTOR)


def test_wsgi_openmetrics_gzip_head_and_errors() -> None:
    status, headers, body = call_wsgi(accept="application/openmetrics-text", accept_encoding="gzip")
    assert headers["Content-Type"] == CONTENT_TYPE_OPENMETRICS
    assert gzip.decompress(body) == generate_openmetrics(COLLECTOR)
    status, headers, body = call_wsgi("HEAD")
    assert (status, body) == ("200 OK", b"")
    assert call_wsgi("POST")[0] == "405 Method Not Allowed"
    assert call_wsgi(path="/x")[0] == "404 Not Found"
    assert call_wsgi(path="/")[0] == "302 Found"


def test_wsgi_mounted_under_a_prefix() -> None:
    # DispatcherMiddleware(app, {"/metrics": make_wsgi_app()}) on GET /metrics
    status, _, body = call_wsgi(path="", script_name="/metrics")
    assert (status, body) == ("200 OK", generate_text(COLLECTOR))


def call_asgi(
    method: str = "GET", path: str = "/metrics", root_path: str = "", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(atomicmetrics.make_asgi_app(COLLECTOR)(scope, receive, send))
    start, body = sent
    assert start["type"] == "http.response.start"
    assert body["type"] == "http.response.body"
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, body["body"]


def test_asgi_get_text_and_openmetrics() -> None:
    status, headers, body = call_asgi()
    assert (status, headers["content-type"], body) == (
        200,
        CONTENT_TYPE_TEXT,
        generate_text(COLLECTOR),
    )
    status, headers, body = call_asgi(accept="application/openmetrics-text", accept_encoding="gzip")
    assert headers["content-type"] == CONTENT_TYPE_OPENMETRICS
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == generate_openmetrics(COLLECTOR)


def test_asgi_head_errors_and_redirect() -> None:
    status, headers, body = call_asgi("HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(generate_text(COLLECTOR))
    assert call_asgi("DELETE")[0] == 405
    assert call_asgi(path="/x")[0] == 404
    status, headers, _ = call_asgi(path="/")
    assert (status, headers["location"]) == (302, "/metrics")


@pytest.mark.parametrize(
    ("path", "root_path"),
    [
        ("/metrics", "/metrics"),
        ("/metrics/", "/metrics"),
        ("/", "/metrics"),
        ("/mon/metrics", "/mon"),
    ],
)
def test_asgi_mounted_under_a_prefix(path: str, root_path: str) -> None:
    status, _, body = call_asgi(path=path, root_path=root_path)
    assert (status, body) == (200, generate_text(COLLECTOR))


def test_asgi_lifespan_and_websocket() -> None:
    app = atomicmetrics.make_asgi_app(COLLECTOR)

    async def run(scope_type: str, incoming: list[str]) -> list[MutableMapping[str, Any]]:
        queue = list(incoming)
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> MutableMapping[str, Any]:
            return {"type": queue.pop(0)}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await app({"type": scope_type}, receive, send)
        return sent

    sent = asyncio.run(run("lifespan", ["lifespan.startup", "lifespan.shutdown"]))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent = asyncio.run(run("websocket", ["websocket.connect"]))
    assert [m["type"] for m in sent] == ["websocket.close"]
    with pytest.raises(ValueError, match="unsupported"):
        asyncio.run(run("carrier-pigeon", []))


def test_asgi_module_is_not_imported_by_the_package() -> None:
    code = (
        "import sys, atomicmetrics\n"
        "assert 'atomicmetrics.asgi' not in sys.modules\n"
        "from atomicmetrics import make_asgi_app\n"
        "assert 'atomicmetrics.asgi' in sys.modules\n"
        "assert make_asgi_app.__module__ == 'atomicmetrics.asgi'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_unknown_attribute_still_raises() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        atomicmetrics.no_such_name  # noqa: B018
