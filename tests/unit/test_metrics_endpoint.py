"""metrics_endpoint: the answer every adapter gives, decided in one place."""

from __future__ import annotations

import gzip

import pytest

from atomicmetrics import generate_openmetrics, generate_text
from atomicmetrics.exposition import CONTENT_TYPE_TEXT
from atomicmetrics.metrics_endpoint import choose_format, metrics_response, wants_gzip
from atomicmetrics.openmetrics import CONTENT_TYPE_OPENMETRICS
from atomicmetrics.protobuf import CONTENT_TYPE_PROTOBUF, generate_protobuf
from atomicmetrics.samples import MetricFamily, Sample
from tests.helpers import StaticCollector
from tests.metrics_proto import decode_delimited

COLLECTOR = StaticCollector(
    [MetricFamily("jobs", "counter", "Jobs done.", (Sample("jobs_total", (("q", "a"),), 5),))]
)
# What Prometheus 2.x sends when scraping.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        ("text/plain;version=0.0.4", False),
        (PROMETHEUS_ACCEPT, True),
        ("application/openmetrics-text", True),
        ("Application/OpenMetrics-Text; version=1.0.0", True),
        ("text/plain, application/openmetrics-text;q=0.1", True),
        ("application/openmetrics-text;q=0", False),
        ("application/openmetrics-text;q=0.0, text/plain", False),
        ("application/openmetrics-text;q=bogus", False),
        ("application/openmetrics-textual", False),
    ],
)
def test_choose_format(accept: str | None, openmetrics: bool) -> None:
    render, content_type = choose_format(accept)
    if openmetrics:
        assert (render, content_type) == (generate_openmetrics, CONTENT_TYPE_OPENMETRICS)
    else:
        assert (render, content_type) == (generate_text, CONTENT_TYPE_TEXT)


# What Prometheus 2.42 sends with --enable-feature=native-histograms.
PROMETHEUS_NATIVE_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
    "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PB = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PROMETHEUS_NATIVE_ACCEPT, "protobuf"),
        (PB, "protobuf"),
        (PB.replace(";", " ; ") + ";q=0.3, text/plain", "protobuf"),
        (f"application/openmetrics-text;q=0.5, {PB};q=0.5", "protobuf"),  # a tie
        (f"application/openmetrics-text, {PB};q=0.9", "openmetrics"),
        (f"{PB};q=0", "text"),
        (PB.replace("delimited", "text"), "text"),  # the text encoding: not offered
        (PB.replace("MetricFamily", "Other"), "text"),
        ("application/vnd.google.protobuf", "text"),  # which message? not said
    ],
)
def test_choose_format_protobuf(accept: str, expected: str) -> None:
    render, content_type = choose_format(accept)
    assert (
        content_type
        == {
            "protobuf": CONTENT_TYPE_PROTOBUF,
            "openmetrics": CONTENT_TYPE_OPENMETRICS,
            "text": CONTENT_TYPE_TEXT,
        }[expected]
    )
    assert (
        render
        is {
            "protobuf": generate_protobuf,
            "openmetrics": generate_openmetrics,
            "text": generate_text,
        }[expected]
    )


def test_protobuf_response_body_decodes() -> None:
    r = metrics_response(COLLECTOR, "GET", "/metrics", PROMETHEUS_NATIVE_ACCEPT)
    assert dict(r.headers)["Content-Type"] == CONTENT_TYPE_PROTOBUF
    (family,) = decode_delimited(r.body)
    assert family.name == "jobs_total"
    assert family.metric[0].counter.value == 5


def test_content_types_carry_versions() -> None:
    assert CONTENT_TYPE_TEXT == "text/plain; version=0.0.4; charset=utf-8"
    assert CONTENT_TYPE_OPENMETRICS == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        (None, False),
        ("identity", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5, br", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("x-gzip", False),
    ],
)
def test_wants_gzip(header: str | None, gzipped: bool) -> None:
    assert wants_gzip(header) is gzipped


def test_get_metrics_text() -> None:
    r = metrics_response(COLLECTOR, "GET", "/metrics")
    assert r.status == 200
    assert r.status_line == "200 OK"
    assert r.body == generate_text(COLLECTOR)
    assert dict(r.headers) == {
        "Content-Type": CONTENT_TYPE_TEXT,
        "Content-Length": str(len(r.body)),
        "Vary": "Accept, Accept-Encoding",
    }


def test_get_metrics_openmetrics_gzipped() -> None:
    r = metrics_response(COLLECTOR, "GET", "/metrics", PROMETHEUS_ACCEPT, "gzip")
    headers = dict(r.headers)
    assert headers["Content-Type"] == CONTENT_TYPE_OPENMETRICS
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Length"] == str(len(r.body))
    assert gzip.decompress(r.body) == generate_openmetrics(COLLECTOR)


def test_head_has_get_headers_and_no_body() -> None:
    get = metrics_response(COLLECTOR, "GET", "/metrics", None, "gzip")
    head = metrics_response(COLLECTOR, "HEAD", "/metrics", None, "gzip")
    assert head.status == 200
    assert head.headers == get.headers
    assert head.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/metrics", "/"])
def test_other_methods_are_405(method: str, path: str) -> None:
    r = metrics_response(COLLECTOR, method, path)
    assert r.status == 405
    assert dict(r.headers)["Allow"] == "GET, HEAD"
    assert r.body == b"405 Method Not Allowed\n"


@pytest.mark.parametrize("path", ["/metrics/", "/other", "/metricsx", "/favicon.ico"])
def test_unknown_paths_are_404(path: str) -> None:
    r = metrics_response(COLLECTOR, "GET", path)
    assert (r.status, r.body) == (404, b"404 Not Found\n")
    assert metrics_response(COLLECTOR, "HEAD", path).body == b""
    assert metrics_response(COLLECTOR, "POST", path).status == 404


def test_root_redirects_to_metrics() -> None:
    r = metrics_response(COLLECTOR, "GET", "/")
    assert r.status == 302
    assert dict(r.headers)["Location"] == "/metrics"
    assert metrics_response(COLLECTOR, "HEAD", "/").status == 302


@pytest.mark.parametrize("path", ["", "/", "/metrics"])
def test_mounted_app_serves_at_its_mount_point(path: str) -> None:
    r = metrics_response(COLLECTOR, "GET", path, mounted=True)
    assert r.status == 200
    assert r.body == generate_text(COLLECTOR)


def test_collect_runs_only_for_a_200() -> None:
    class Exploding:
        def collect(self) -> list[MetricFamily]:
            raise RuntimeError("boom")

    assert metrics_response(Exploding(), "GET", "/nope").status == 404
    assert metrics_response(Exploding(), "POST", "/metrics").status == 405
    with pytest.raises(RuntimeError, match="boom"):
        metrics_response(Exploding(), "GET", "/metrics")
