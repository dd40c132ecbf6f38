"""prometheus_client.exposition: text output, HTTP serving, textfiles, Pushgateway.

* ``generate_latest(registry)``: Prometheus text 0.0.4, byte for byte what
  prometheus_client 0.21 writes; ``choose_encoder`` picks it or OpenMetrics
  from an ``Accept`` header.
* ``make_wsgi_app`` / ``make_asgi_app`` / ``MetricsHandler`` /
  ``start_http_server`` (= ``start_wsgi_server``): serve a registry on any
  path, gzip when asked, ``?name[]=x`` restricting the output to those
  series, TLS and client certificates on request.
* ``write_to_textfile``: for node_exporter's textfile collector (atomic rename).
* ``push_to_gateway`` (PUT), ``pushadd_to_gateway`` (POST),
  ``delete_from_gateway`` (DELETE) with pluggable request handlers:
  ``default_handler``, ``basic_auth_handler``, ``tls_auth_handler``,
  ``passthrough_redirect_handler``.

Reading a registry never blocks recording.
"""

from __future__ import annotations

import base64
import gzip
import os
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingMixIn
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, quote_plus, urlparse
from urllib.request import (
    BaseHandler,
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    Request,
    build_opener,
)
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from atomicmetrics.prometheus_client._render import render
from atomicmetrics.prometheus_client.openmetrics import exposition as openmetrics
from atomicmetrics.prometheus_client.registry import REGISTRY, CollectorRegistry

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MetricsHandler",
    "basic_auth_handler",
    "choose_encoder",
    "default_handler",
    "delete_from_gateway",
    "generate_latest",
    "gzip_accepted",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "passthrough_redirect_handler",
    "push_to_gateway",
    "pushadd_to_gateway",
    "start_http_server",
    "start_wsgi_server",
    "tls_auth_handler",
    "write_to_textfile",
]

CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of :func:`generate_latest`'s output."""

Encoder = Callable[[Any], bytes]
Handler = Callable[..., Callable[[], None]]


def generate_latest(registry: Any = REGISTRY) -> bytes:
    """``registry``'s families in Prometheus text format 0.0.4.

    Counters as ``<name>_total``; ``_created``, ``_gcount`` and ``_gsum``
    samples as gauge families of their own after each family; info as
    ``<name>_info`` gauges, state sets as gauges, unknown as ``untyped``;
    labels sorted by name; timestamps in milliseconds. An error raised while
    rendering a family carries that ``Metric`` as its last argument.
    Thread-safe; recording goes on while it runs.
    """
    return render(registry, openmetrics=False)


def choose_encoder(accept_header: str | None) -> tuple[Encoder, str]:
    """OpenMetrics when ``accept_header`` lists ``application/openmetrics-text``."""
    for accepted in (accept_header or "").split(","):
        if accepted.split(";")[0].strip() == "application/openmetrics-text":
            return openmetrics.generate_latest, openmetrics.CONTENT_TYPE_LATEST
    return generate_latest, CONTENT_TYPE_LATEST


def gzip_accepted(accept_encoding_header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header lists gzip."""
    return any(
        part.split(";")[0].strip().lower() == "gzip"
        for part in (accept_encoding_header or "").split(",")
    )


def _bake_output(
    registry: Any,
    accept_header: str | None,
    accept_encoding_header: str | None,
    params: dict[str, list[str]],
    disable_compression: bool,
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body of one scrape (``name[]`` restricts the output)."""
    encoder, content_type = choose_encoder(accept_header)
    if "name[]" in params:
        registry = registry.restricted_registry(params["name[]"])
    output = encoder(registry)
    headers = [("Content-Type", content_type)]
    if not disable_compression and gzip_accepted(accept_encoding_header):
        output = gzip.compress(output)
        headers.append(("Content-Encoding", "gzip"))
    return "200 OK", headers, output


def make_wsgi_app(
    registry: Any = REGISTRY, disable_compression: bool = False
) -> Callable[..., Any]:
    """A WSGI app serving ``registry`` on every path (GET; OPTIONS lists methods).

    ``/favicon.ico`` gets an empty answer; other methods get 405.
    """

    def prometheus_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            status, headers, output = "200 OK", [("Allow", "OPTIONS,GET")], b""
        elif method != "GET":
            status = "405 Method Not Allowed"
            headers = [("Allow", "OPTIONS,GET")]
            output = f"# HTTP {status}: {method}; use OPTIONS or GET\n".encode()
        elif environ["PATH_INFO"] == "/favicon.ico":
            status, headers, output = "200 OK", [("", "")], b""
        else:
            status, headers, output = _bake_output(
                registry,
                environ.get("HTTP_ACCEPT"),
                environ.get("HTTP_ACCEPT_ENCODING"),
                parse_qs(environ.get("QUERY_STRING", "")),
                disable_compression,
            )
        start_response(status, headers)
        return [output]

    return prometheus_app


class _SilentHandler(WSGIRequestHandler):
    """A WSGI request handler that logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A WSGI server with a daemon thread per request."""

    daemon_threads = True


def _get_best_family(address: str, port: int) -> tuple[socket.AddressFamily, str]:
    """The address family and address to bind ``address`` (IPv6 included)."""
    infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


def _get_ssl_ctx(
    certfile: str,
    keyfile: str,
    protocol: int,
    cafile: str | None = None,
    capath: str | None = None,
    client_auth_required: bool = False,
) -> ssl.SSLContext:
    """A server TLS context; errors name the file that could not be loaded."""
    context = ssl.SSLContext(protocol=protocol)
    try:
        if cafile is not None or capath is not None:
            context.load_verify_locations(cafile, capath)
        else:
            context.load_default_certs(purpose=ssl.Purpose.CLIENT_AUTH)
    except OSError as exc:
        raise type(exc)(
            f"Cannot load CA certificate chain from file {cafile!r} or directory {capath!r}: {exc}"
        ) from exc
    if client_auth_required:
        context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    except OSError as exc:
        raise type(exc)(
            f"Cannot load server certificate file {certfile!r} or "
            f"its private key file {keyfile!r}: {exc}"
        ) from exc
    return context


def start_wsgi_server(
    port: int,
    addr: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
    certfile: str | None = None,
    keyfile: str | None = None,
    client_cafile: str | None = None,
    client_capath: str | None = None,
    protocol: int = ssl.PROTOCOL_TLS_SERVER,
    client_auth_required: bool = False,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``registry`` on ``addr:port`` from a daemon thread.

    Binds every interface by default, as prometheus_client does (pass
    ``addr="127.0.0.1"`` to keep it local); port 0 picks a free one
    (``server.server_port``). TLS with ``certfile`` and ``keyfile``; client
    certificates with ``client_cafile``/``client_capath`` and
    ``client_auth_required``. Returns the server and its thread; stop with
    ``server.shutdown(); server.server_close()``.
    """

    class Server(ThreadingWSGIServer):
        """The server class, with the address family of ``addr``."""

    Server.address_family, addr = _get_best_family(addr, port)
    httpd = make_server(addr, port, make_wsgi_app(registry), Server, handler_class=_SilentHandler)
    if certfile and keyfile:
        context = _get_ssl_ctx(
            certfile, keyfile, protocol, client_cafile, client_capath, client_auth_required
        )
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


start_http_server = start_wsgi_server


class MetricsHandler(BaseHTTPRequestHandler):
    """An ``http.server`` handler serving ``registry`` (``REGISTRY`` unless set)."""

    registry: Any = REGISTRY

    def do_GET(self) -> None:
        """Answer one scrape."""
        status, headers, output = _bake_output(
            self.registry,
            self.headers.get("Accept"),
            self.headers.get("Accept-Encoding"),
            parse_qs(urlparse(self.path).query),
            False,
        )
        self.send_response(int(status.split(" ")[0]))
        for header in headers:
            self.send_header(*header)
        self.end_headers()
        self.wfile.write(output)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    @classmethod
    def factory(cls, registry: Any) -> type:
        """A subclass of this handler class serving ``registry``."""
        return type(cls.__name__, (cls, object), {"registry": registry})


def write_to_textfile(path: str, registry: Any) -> None:
    """Write ``registry`` in text format to ``path``, replacing it atomically.

    For node_exporter's textfile collector (which reads ``*.prom`` files):
    the text goes to a temporary file beside ``path`` that is then renamed.
    """
    tmppath = f"{path}.{os.getpid()}.{threading.current_thread().ident}"
    with open(tmppath, "wb") as f:
        f.write(generate_latest(registry))
    os.replace(tmppath, path)


# ---- Pushgateway -------------------------------------------------------------


class _PrometheusRedirectHandler(HTTPRedirectHandler):
    """Follows redirects for every method, resending the body and headers.

    Only for gateways whose redirects the user trusts (see
    ``passthrough_redirect_handler``).
    """

    def redirect_request(
        self, req: Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Request | None:
        method = req.get_method()
        if not (
            (code in (301, 302, 303, 307) and method in ("GET", "HEAD"))
            or (code in (301, 302, 303) and method in ("POST", "PUT"))
        ):
            raise HTTPError(req.full_url, code, msg, headers, fp)
        redirected = Request(
            newurl.replace(" ", "%20"),
            headers=dict(req.headers),
            origin_req_host=req.origin_req_host,
            unverifiable=True,
            data=req.data,
            method=method,
        )
        return redirected


def _make_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: Sequence[tuple[str, str]],
    data: bytes,
    base_handler: BaseHandler | type[BaseHandler],
) -> Callable[[], None]:
    def handle() -> None:
        request = Request(url, data=data, method=method)
        for name, value in headers:
            request.add_header(name, value)
        response = build_opener(base_handler).open(request, timeout=timeout)
        if response.code >= 400:
            raise OSError(f"error talking to pushgateway: {response.code} {response.msg}")

    return handle


def default_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: list[tuple[str, str]],
    data: bytes,
) -> Callable[[], None]:
    """The plain HTTP(S) request of the push functions; reusable by other handlers."""
    return _make_handler(url, method, timeout, headers, data, HTTPHandler)


def passthrough_redirect_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: list[tuple[str, str]],
    data: bytes,
) -> Callable[[], None]:
    """Like ``default_handler``, but follows redirects for PUT/POST with the body.

    Use it only when you trust the gateway's redirects.
    """
    return _make_handler(url, method, timeout, headers, data, _PrometheusRedirectHandler)


def basic_auth_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: list[tuple[str, str]],
    data: bytes,
    username: str | None = None,
    password: str | None = None,
) -> Callable[[], None]:
    """``default_handler`` with HTTP Basic authentication when both are given."""

    def handle() -> None:
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers.append(("Authorization", "Basic " + token))
        default_handler(url, method, timeout, headers, data)()

    return handle


def tls_auth_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: list[tuple[str, str]],
    data: bytes,
    certfile: str,
    keyfile: str,
    cafile: str | None = None,
    protocol: int = ssl.PROTOCOL_TLS_CLIENT,
    insecure_skip_verify: bool = False,
) -> Callable[[], None]:
    """An HTTPS request authenticated by a client certificate.

    Verifies the server against ``cafile`` (or the default CAs) unless
    ``insecure_skip_verify``.
    """
    context = ssl.SSLContext(protocol=protocol)
    if cafile is not None:
        context.load_verify_locations(cafile)
    else:
        context.load_default_certs()
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    return _make_handler(url, method, timeout, headers, data, HTTPSHandler(context=context))


def push_to_gateway(
    gateway: str,
    job: str,
    registry: Any,
    grouping_key: dict[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
) -> None:
    """Replace every metric of ``job`` and ``grouping_key`` on the gateway (PUT).

    ``gateway`` is ``http(s)://host:port`` or ``host:port`` (http assumed);
    ``handler(url, method, timeout, headers, data)`` returns the callable
    that sends the request and raises (``OSError``) on failure.
    """
    _use_gateway("PUT", gateway, job, registry, grouping_key, timeout, handler)


def pushadd_to_gateway(
    gateway: str,
    job: str,
    registry: Any | None,
    grouping_key: dict[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
) -> None:
    """Replace the pushed metrics of the same names only (POST)."""
    _use_gateway("POST", gateway, job, registry, grouping_key, timeout, handler)


def delete_from_gateway(
    gateway: str,
    job: str,
    grouping_key: dict[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
) -> None:
    """Delete every metric of ``job`` and ``grouping_key`` from the gateway (DELETE)."""
    _use_gateway("DELETE", gateway, job, None, grouping_key, timeout, handler)


def _use_gateway(
    method: str,
    gateway: str,
    job: str,
    registry: Any | None,
    grouping_key: dict[str, Any] | None,
    timeout: float | None,
    handler: Handler,
) -> None:
    if urlparse(gateway).scheme not in ("http", "https"):
        gateway = "http://" + gateway
    path = "/".join(_escape_grouping_key("job", job))
    for name, value in sorted((grouping_key or {}).items()):
        path += "/" + "/".join(_escape_grouping_key(str(name), str(value)))
    url = f"{gateway.rstrip('/')}/metrics/{path}"
    data = (
        b"" if method == "DELETE" else generate_latest(REGISTRY if registry is None else registry)
    )
    handler(
        url=url,
        method=method,
        timeout=timeout,
        headers=[("Content-Type", CONTENT_TYPE_LATEST)],
        data=data,
    )()


def _escape_grouping_key(name: str, value: str) -> tuple[str, str]:
    """A grouping key pair as URL path segments (base64 for ``""`` and ``/``)."""
    if value == "":
        return name + "@base64", "="
    if "/" in value:
        return name + "@base64", base64.urlsafe_b64encode(value.encode("utf-8")).decode("utf-8")
    return name, quote_plus(value)


def instance_ip_grouping_key() -> dict[str, Any]:
    """``{"instance": <this host's IP address>}`` for a grouping key."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # A UDP "connect" sends nothing; it picks the outgoing address.
        s.connect(("10.255.255.255", 1) if sys.platform == "darwin" else ("localhost", 0))
        return {"instance": s.getsockname()[0]}


from atomicmetrics.prometheus_client.asgi import make_asgi_app  # noqa: E402 -- asgi imports us
