"""start_http_server: a real server on loopback, hit by a real HTTP client."""

from __future__ import annotations

import gzip
import http.client
import logging
import socket
import struct
import urllib.request

import pytest

from atomicmetrics import (
    MetricsServer,
    Registry,
    generate_openmetrics,
    generate_text,
    start_http_server,
)
from atomicmetrics.exposition import CONTENT_TYPE_TEXT
from atomicmetrics.openmetrics import CONTENT_TYPE_OPENMETRICS
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import StaticCollector, wait_until

COLLECTOR = StaticCollector(
    [MetricFamily("jobs", "counter", "Jobs done.", (Sample("jobs_total", (("q", "a"),), 5),))]
)
TIMEOUT = 10.0


@pytest.fixture
def server() -> object:
    with start_http_server(0, registry=COLLECTOR) as srv:
        yield srv


def request(
    srv: MetricsServer, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_port_zero_picks_a_free_port_and_urllib_reads_metrics(server: MetricsServer) -> None:
    assert server.port > 0
    assert server.addr == "127.0.0.1"
    url = f"http://127.0.0.1:{server.port}/metrics"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE_TEXT
        assert response.read() == generate_text(COLLECTOR)


def test_openmetrics_negotiated_and_gzipped(server: MetricsServer) -> None:
    response, body = request(
        server,
        "GET",
        "/metrics",
        {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_OPENMETRICS
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == generate_openmetrics(COLLECTOR)


def test_head_gets_headers_without_body(server: MetricsServer) -> None:
    response, body = request(server, "HEAD", "/metrics")
    assert response.status == 200
    assert body == b""
    assert int(response.headers["Content-Length"]) == len(generate_text(COLLECTOR))


def test_query_string_is_ignored(server: MetricsServer) -> None:
    response, body = request(server, "GET", "/metrics?name[]=jobs_total")
    assert (response.status, body) == (200, generate_text(COLLECTOR))


def test_errors_and_redirect(server: MetricsServer) -> None:
    assert request(server, "GET", "/nope")[0].status == 404
    response, _ = request(server, "POST", "/metrics")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, HEAD"
    response, _ = request(server, "GET", "/")
    assert response.status == 302
    assert response.headers["Location"] == "/metrics"
    # urllib follows the redirect to the metrics.
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=TIMEOUT) as r:
        assert r.read() == generate_text(COLLECTOR)


def test_keep_alive_serves_several_requests_on_one_connection(server: MetricsServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        for _ in range(3):
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            assert response.read() == generate_text(COLLECTOR)
    finally:
        conn.close()


def test_collect_failure_is_a_500_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Exploding:
        def collect(self) -> list[MetricFamily]:
            raise RuntimeError("boom")

    with start_http_server(0, registry=Exploding()) as srv:
        with caplog.at_level(logging.ERROR, logger="atomicmetrics"):
            response, _ = request(srv, "GET", "/metrics")
        assert response.status == 500
        # The server survives and answers the next request.
        assert request(srv, "GET", "/nope")[0].status == 404
    assert any("collecting metrics" in r.getMessage() for r in caplog.records)


def test_close_releases_the_port_and_is_idempotent() -> None:
    srv = start_http_server(0, registry=COLLECTOR)
    port = srv.port
    assert "serving" in repr(srv)
    srv.close()
    srv.close()
    assert "closed" in repr(srv)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 5):
        pass
    # The port can be bound again at once.
    with start_http_server(port, registry=COLLECTOR) as again:
        assert again.port == port


def test_context_manager_returns_the_server() -> None:
    srv = start_http_server(0, registry=COLLECTOR)
    with srv as entered:
        assert entered is srv
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", srv.port), 5),
    ):
        pass


def test_port_in_use_raises_oserror(server: MetricsServer) -> None:
    with pytest.raises(OSError, match="in use"):
        start_http_server(server.port, registry=COLLECTOR)


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        srv = start_http_server(0, addr="::1", registry=COLLECTOR)
    except OSError as e:
        pytest.skip(f"cannot bind ::1 here: {e}")
    with srv:
        conn = http.client.HTTPConnection("::1", srv.port, timeout=TIMEOUT)
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() == generate_text(COLLECTOR)
        conn.close()


def _hang_up_mid_response(port: int) -> None:
    """Ask for the metrics and reset the connection (RST) before reading them."""
    sock = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_client_disconnects_are_logged_at_debug_without_traceback(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    registry = Registry()
    family = registry.counter("big", "A body of megabytes: rendering outlasts the RST.", ("k",))
    for i in range(20_000):
        family.labels(f"{'v' * 40}{i}").inc()
    with (
        caplog.at_level(logging.DEBUG, logger="atomicmetrics"),
        start_http_server(0, registry=registry) as srv,
    ):
        for _ in range(3):
            _hang_up_mid_response(srv.port)
        # Each hang-up is handled before a later request on a new thread
        # ends: wait until every one was logged, then check the server
        # still answers.
        wait_until(
            lambda: sum("went away" in r.getMessage() for r in caplog.records) >= 3 or None,
            "three hang-ups logged",
            30,
        )
        assert request(srv, "GET", "/nope")[0].status == 404
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert {r.levelno for r in gone} == {logging.DEBUG}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Exception occurred" not in err
    assert err == ""
