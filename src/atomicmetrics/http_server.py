"""A stand-alone HTTP server for ``/metrics`` on a background thread.

Built on the standard library's ``ThreadingHTTPServer``: one daemon thread
accepts connections, each connection is served on a daemon thread of its own
(HTTP/1.1 with keep-alive, so Prometheus reuses its connection between
scrapes), and what a request gets is decided by
``metrics_endpoint.metrics_response``.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from atomicmetrics._closing import ClosingContext
from atomicmetrics.metrics_endpoint import metrics_response
from atomicmetrics.registry import REGISTRY
from atomicmetrics.samples import Collector

__all__ = ["MetricsServer", "start_http_server"]

_log = logging.getLogger("atomicmetrics")

# An idle keep-alive connection is dropped after this many seconds; scrapers
# reconnect transparently. Bounds the threads a closed server leaves behind.
_IDLE_TIMEOUT_S = 120.0
# How long close() waits for the accept loop's thread to end.
_JOIN_TIMEOUT_S = 10.0
# How often the accept loop checks for close(): bounds close()'s latency at
# the cost of ten idle wake-ups a second.
_POLL_INTERVAL_S = 0.1


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer holding the collector its handlers serve."""

    daemon_threads = True
    # socketserver's default backlog is 5: with dozens of scrapers opening
    # connections at once, SYNs past it are dropped and retried by the
    # client's kernel after 1 s, then 3 s (tests/stress/test_http_load.py
    # measured a p99 of 3.5 s). The kernel caps it at net.core.somaxconn.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: tuple[str, int], collector: Collector, family: int) -> None:
        self.address_family = family
        self.collector = collector
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A request failed outside ``_answer``: log it instead of printing.

        ``socketserver`` prints every such traceback to stderr (~22 lines
        per client that hangs up mid-response). A client that went away
        (``ConnectionError``: reset, broken pipe, aborted; or timed out) is
        routine and logged at DEBUG; anything else is a bug, logged at
        ERROR with its traceback on the ``atomicmetrics`` logger.
        """
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            _log.debug("client %s went away: %r", client_address, exc)
        else:
            _log.error("serving a request from %s failed", client_address, exc_info=exc)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to ``metrics_response``; logs at DEBUG only."""

    protocol_version = "HTTP/1.1"
    server_version = "atomicmetrics"
    timeout = _IDLE_TIMEOUT_S
    server: _Server

    def _answer(self) -> None:
        path = self.path.partition("?")[0]
        try:
            response = metrics_response(
                self.server.collector,
                self.command,
                path,
                self.headers.get("Accept"),
                self.headers.get("Accept-Encoding"),
            )
        except Exception:
            _log.exception("collecting metrics for %s failed", path)
            self.send_error(500)
            return
        if self.command not in ("GET", "HEAD"):
            # Any request body was not read: the connection cannot be reused.
            self.close_connection = True
        self.send_response(response.status)
        for key, value in response.headers:
            self.send_header(key, value)
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("%s - " + format, self.address_string(), *args)


class MetricsServer(ClosingContext):
    """A running ``/metrics`` HTTP server; made by :func:`start_http_server`.

    ``port`` is the bound port (the real one when 0 was asked for), ``addr``
    the bound address. ``close()`` stops accepting, joins the accept thread
    and releases the port; it is idempotent and thread-safe. Used as a
    context manager, ``__enter__`` returns the server and ``__exit__`` closes
    it. Connections already open when it closes are served until idle.
    """

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"atomicmetrics-http-{self.port}",
            daemon=True,
        )
        self._closing = threading.Lock()
        self._closed = False
        self._thread.start()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def addr(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    def close(self) -> None:
        """Stop serving and release the port (bounded wait; idempotent)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._thread.join(_JOIN_TIMEOUT_S)
        self._server.server_close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<MetricsServer {state} on {self.addr}:{self.port}>"


def start_http_server(
    port: int, addr: str = "127.0.0.1", registry: Collector = REGISTRY
) -> MetricsServer:
    """Serve ``registry`` on ``http://addr:port/metrics``.

    Port 0 picks a free port (read it back from ``.port``). Returns once the
    socket is listening; requests are answered on daemon threads, so a server
    never keeps the process alive. Content negotiation, gzip, ``HEAD``, 404
    and 405 are as described in ``atomicmetrics.metrics_endpoint``. Raises
    ``OSError`` if the address cannot be bound (port in use, bad address).
    Binds ``127.0.0.1`` by default: pass ``addr="0.0.0.0"`` (or ``"::"``) to
    be reachable from other hosts. No TLS, no authentication.
    """
    info = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family = info[0][0]
    return MetricsServer(_Server((addr, port), registry, family))
