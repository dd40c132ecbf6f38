"""The ``/metrics`` HTTP endpoint, independent of any server or framework.

``metrics_response`` turns a request's method, path and two headers into a
status, headers and body; ``start_http_server`` (``http_server.py``),
``make_wsgi_app`` (``wsgi.py``) and ``make_asgi_app`` (``asgi.py``) are thin
adapters around it, so all three answer identically:

- ``GET``/``HEAD`` ``/metrics`` -> 200 with the exposition. Prometheus's
  protobuf format (the only one with native histograms) when ``Accept``
  lists ``application/vnd.google.protobuf`` with
  ``proto=io.prometheus.client.MetricFamily`` and ``encoding=delimited`` at
  a non-zero ``q`` no lower than any OpenMetrics entry's (what Prometheus
  sends with native histograms enabled); else OpenMetrics 1.0 when
  ``Accept`` lists ``application/openmetrics-text`` with a non-zero ``q``
  (any version parameter: 1.0.0 is the only one produced); else Prometheus
  text 0.0.4. Gzipped when ``Accept-Encoding`` lists ``gzip``
  with a non-zero ``q``. ``HEAD`` gets the headers a ``GET`` would, without
  the body. ``Vary: Accept, Accept-Encoding`` tells caches about both.
- ``GET``/``HEAD`` ``/`` -> 302 to ``/metrics`` when the app sits at the root
  of its server; an app mounted under a prefix (WSGI ``SCRIPT_NAME``, ASGI
  ``root_path``, e.g. ``/metrics`` in a Flask or Starlette app) serves the
  metrics at the mount point itself, so ``<prefix>`` and ``<prefix>/`` answer
  like ``<prefix>/metrics``.
- another method on those paths -> 405 with ``Allow: GET, HEAD``.
- any other path -> 404. The query string is ignored.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from atomicmetrics.exposition import CONTENT_TYPE_TEXT, generate_text
from atomicmetrics.openmetrics import CONTENT_TYPE_OPENMETRICS, generate_openmetrics
from atomicmetrics.protobuf import CONTENT_TYPE_PROTOBUF, generate_protobuf
from atomicmetrics.samples import Collector

__all__ = ["MetricsResponse", "choose_format", "metrics_response", "wants_gzip"]

METRICS_PATH = "/metrics"
_ALLOWED = "GET, HEAD"
# zlib's default level: most of level 9's ratio on exposition text at a
# fraction of its CPU (scrapes happen every few seconds, forever).
_GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class MetricsResponse:
    """What to answer: status code, header pairs (``str``) and body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def status_line(self) -> str:
        """``"200 OK"``-style status, as WSGI's ``start_response`` wants it."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def _best_q(header: str | None, wanted: str, params: dict[str, str] | None = None) -> float:
    """The highest ``q`` at which the comma-separated ``header`` lists the
    media type ``wanted`` (with every parameter of ``params``; names and the
    type compared case-insensitively, values exactly); 0.0 if it does not."""
    best = 0.0
    if not header:
        return best
    for item in header.split(","):
        token, *rest = item.split(";")
        if token.strip().lower() != wanted:
            continue
        q = 1.0
        given: dict[str, str] = {}
        for param in rest:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip()
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            else:
                given[key] = value
        if params and any(given.get(k) != v for k, v in params.items()):
            continue
        best = max(best, q)
    return best


_PROTOBUF = (
    "application/vnd.google.protobuf",
    {
        "proto": "io.prometheus.client.MetricFamily",
        "encoding": "delimited",
    },
)


def choose_format(accept: str | None) -> tuple[Callable[[Collector], bytes], str]:
    """Pick the renderer and its ``Content-Type`` for an ``Accept`` header."""
    openmetrics = _best_q(accept, "application/openmetrics-text")
    protobuf = _best_q(accept, *_PROTOBUF)
    if protobuf > 0.0 and protobuf >= openmetrics:
        return generate_protobuf, CONTENT_TYPE_PROTOBUF
    if openmetrics > 0.0:
        return generate_openmetrics, CONTENT_TYPE_OPENMETRICS
    return generate_text, CONTENT_TYPE_TEXT


def wants_gzip(accept_encoding: str | None) -> bool:
    """True if an ``Accept-Encoding`` header asks for ``gzip``."""
    return _best_q(accept_encoding, "gzip") > 0.0


def _plain(status: HTTPStatus, *extra: tuple[str, str], head: bool) -> MetricsResponse:
    body = f"{status.value} {status.phrase}\n".encode()
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *extra,
    )
    return MetricsResponse(status.value, headers, b"" if head else body)


def metrics_response(
    registry: Collector,
    method: str,
    path: str,
    accept: str | None = None,
    accept_encoding: str | None = None,
    *,
    mounted: bool = False,
) -> MetricsResponse:
    """Answer one request to the metrics endpoint (see the module docstring).

    ``path`` is relative to where the app is mounted; ``mounted`` says whether
    that is below the server's root. Renders (calls ``registry.collect()``)
    only for a 200; exceptions from collecting propagate to the adapter.
    Thread-safe: keeps no state.
    """
    head = method == "HEAD"
    if path == METRICS_PATH or (mounted and path in ("", "/")):
        if method != "GET" and not head:
            return _plain(HTTPStatus.METHOD_NOT_ALLOWED, ("Allow", _ALLOWED), head=False)
        render, content_type = choose_format(accept)
        body = render(registry)
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if wants_gzip(accept_encoding):
            body = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        return MetricsResponse(200, tuple(headers), b"" if head else body)
    if path in ("", "/"):
        if method != "GET" and not head:
            return _plain(HTTPStatus.METHOD_NOT_ALLOWED, ("Allow", _ALLOWED), head=False)
        return _plain(HTTPStatus.FOUND, ("Location", METRICS_PATH), head=head)
    return _plain(HTTPStatus.NOT_FOUND, head=head)
