"""A stand-alone HTTP server for ``/metrics`` on a background thread.

One thread runs an ``asyncio`` event loop that owns every socket: it
accepts connections, reads requests and writes responses, so a client that
is slow to send or to read costs a socket and a buffer, never a thread. A
request whose head has arrived is answered by
``metrics_response`` (``metrics_endpoint.py``: content negotiation, gzip,
404/405) on one of ``max_threads`` daemon render threads. HTTP/1.1 with
keep-alive, so Prometheus reuses its connection between scrapes.

Limits, each answered the way the standard library's server answered them:
a request line over 64 KiB is a 414, a header line over 64 KiB or more than
100 header lines a 431, a malformed request a 400, an HTTP version other
than 1.x a 505; each closes the connection.

What a hostile or careless peer can do, and what bounds it:

* **Connections**: at most ``max_connections`` are open. A new one past the
  cap makes room by closing the oldest idle connection (waiting for its
  next request), or, when none is idle, the one that has been sending its
  request or reading its response the longest (a slow client; a scrape
  takes milliseconds); only when every connection is being rendered is the
  new one answered ``503`` and closed. So slow clients cannot keep a scrape
  out, and no connection holds a thread.
* **Slow clients**: from the first byte of a request, the client has
  ``request_timeout_s`` to send the rest of its head; writing the response
  has ``request_timeout_s`` too; past either the connection is closed.
  Rendering is not counted. An idle keep-alive connection is closed after
  two minutes.
* **Out of file descriptors** (``EMFILE``): the loop pauses accepting for
  one second instead of retrying at once (the standard library's server
  retried at once: 100% CPU), closes half of the idle connections (the
  oldest; at least one connection, idle or slow) to free descriptors for
  the clients waiting in the listen backlog, and logs a WARNING (at most
  one a minute).

Everything is logged on the ``atomicmetrics`` logger: requests and clients
that hang up or time out at DEBUG, a failing ``collect()`` and any other
failure at ERROR with its traceback. Nothing is printed to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import logging
import os
import queue
import selectors
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from atomicmetrics._closing import ClosingContext
from atomicmetrics.metrics_endpoint import MetricsResponse, metrics_response
from atomicmetrics.registry import REGISTRY
from atomicmetrics.samples import Collector

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_REQUEST_TIMEOUT_S",
    "MetricsServer",
    "start_http_server",
]

_log = logging.getLogger("atomicmetrics")

DEFAULT_MAX_CONNECTIONS = 100
"""Connections open at once by default (Prometheus keeps one per target)."""
DEFAULT_MAX_THREADS = 2
"""Render threads by default: scrapes rendered at once (rendering is CPU
work; two cover a Prometheus pair without idle threads)."""
DEFAULT_REQUEST_TIMEOUT_S = 10.0
"""Seconds a client has to send a request head, and to read a response
(Prometheus's default scrape timeout)."""

# An idle keep-alive connection is closed after this many seconds; scrapers
# reconnect transparently.
_IDLE_TIMEOUT_S = 120.0
# The standard library's limits (http.server, http.client): a request line
# or a header line of at most 64 KiB, at most 100 header lines.
_MAX_LINE = 65536
_MAX_HEADERS = 100
# How long close() waits for the loop thread and a shutdown step.
_JOIN_TIMEOUT_S = 10.0
# SO_LINGER on, 0 s: close() resets the connection instead of sending what
# the kernel still buffers.
_LINGER_RESET = struct.pack("ii", 1, 0)
# How long a refused connection (503) is read from before it is closed.
_LINGER_S = 1.0
# At most one out-of-descriptors WARNING per this many seconds.
_WARNING_INTERVAL_S = 60.0
# accept() errors that mean "out of a resource": asyncio pauses accepting
# for one second on these (ACCEPT_RETRY_DELAY) and reports them to the
# loop's exception handler.
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
_SERVER_HEADER = f"atomicmetrics Python/{sys.version_info.major}.{sys.version_info.minor}"


class _BadRequest(Exception):
    """A request that is answered with ``status`` and a closed connection."""

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Request:
    """A parsed request head: method, path (without query), version, headers."""

    __slots__ = ("headers", "line", "method", "path", "version")

    def __init__(self, line: str, method: str, path: str, version: str) -> None:
        self.line = line
        self.method = method
        self.path = path
        self.version = version
        self.headers: dict[str, str] = {}  # lower-case name -> values, comma-joined

    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def has_body(self) -> bool:
        length = self.headers.get("content-length", "0").strip()
        return "transfer-encoding" in self.headers or length not in ("", "0")


def _parse_request_line(raw: bytes) -> _Request:
    line = raw.decode("latin-1").rstrip("\r\n")
    words = line.split()
    if len(words) != 3:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"bad request line {line[:100]!r}")
    method, target, version = words
    if not version.startswith("HTTP/") or not version[5:].replace(".", "", 1).isdigit():
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"bad HTTP version {version[:20]!r}")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise _BadRequest(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"HTTP version {version!r}")
    return _Request(line, method, target.partition("?")[0], version)


async def _read_head(reader: asyncio.StreamReader, first: bytes) -> _Request:
    """The request whose first byte is ``first``: request line and headers."""
    try:
        request = _parse_request_line(first + await reader.readline())
    except ValueError:  # the reader's limit: no line end within 64 KiB
        raise _BadRequest(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long") from None
    for _ in range(_MAX_HEADERS + 1):
        try:
            raw = await reader.readline()
        except ValueError:
            raise _BadRequest(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "header line too long"
            ) from None
        if raw in (b"\r\n", b"\n"):
            return request
        if not raw.endswith(b"\n"):
            raise asyncio.IncompleteReadError(raw, None)  # the client hung up
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"bad header line {raw[:100]!r}")
        key = name.lower()
        value = value.strip()
        old = request.headers.get(key)
        request.headers[key] = value if old is None else f"{old}, {value}"
    raise _BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")


def _serialize(response: MetricsResponse, keep_alive: bool) -> bytes:
    status = HTTPStatus(response.status)
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Server: {_SERVER_HEADER}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        *(f"{key}: {value}" for key, value in response.headers),
    ]
    if not keep_alive:
        lines.append("Connection: close")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + response.body


def _hard_close(writer: asyncio.StreamWriter) -> None:
    """Close a connection at once with a reset, discarding what is unsent:
    a slow reader's megabytes do not linger in the kernel after it is cut."""
    sock = writer.get_extra_info("socket")
    if sock is not None and not writer.transport.is_closing():
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """End our side and drop what the peer still sends, for a moment.

    Closing a socket with input unread resets the connection, and the peer
    may then lose the response it was sent (a 503, a 431, a 405 with the
    request body unread); reading until the peer closes (at most
    ``_LINGER_S``) lets the response arrive first.
    """

    async def discard() -> None:
        while await reader.read(65536):
            pass

    with contextlib.suppress(Exception):
        writer.write_eof()
        await asyncio.wait_for(discard(), _LINGER_S)


def _selector() -> selectors.BaseSelector:
    poll = getattr(selectors, "PollSelector", None)
    return poll() if poll is not None else selectors.SelectSelector()


def _plain_response(status: HTTPStatus) -> MetricsResponse:
    body = f"{status.value} {status.phrase}\n".encode()
    headers = (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))))
    return MetricsResponse(status.value, headers, body)


class _RenderThreads:
    """``count`` daemon threads that run ``metrics_response`` for the loop.

    Thread-safe; a job's result (or exception) is handed to the loop with
    ``call_soon_threadsafe``. Daemon threads: a collector that hangs never
    keeps the process from exiting.
    """

    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-render-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, fn: Callable[..., MetricsResponse], *args: object
    ) -> asyncio.Future[MetricsResponse]:
        future: asyncio.Future[MetricsResponse] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, fn, args))
        return future

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            try:
                result, error = fn(*args), None
            except Exception as e:  # handed to the awaiting connection
                result, error = None, e
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def _settle(future: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_IDLE, _SENDING, _RENDERING, _RECEIVING = "idle", "sending", "rendering", "receiving"


class _Connection:
    """One client connection, what it waits for, and its deadline (loop
    thread only).

    ``phase``: ``idle`` (for a request), ``sending`` (the client sends its
    request head), ``rendering`` (a render thread), ``receiving`` (the
    client reads the response); ``since``: monotonic time the phase began.
    Each phase but ``rendering`` has a deadline: a timer that resets the
    connection, which ends whatever read or write awaits it (one timer
    handle per phase, cheaper than a task per ``asyncio.wait_for``).
    """

    __slots__ = ("expired", "peer", "phase", "since", "timer", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        self.phase = _IDLE
        self.since = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.expired: str | None = None  # the phase whose deadline passed (then reset)

    def enter(self, phase: str, deadline_s: float | None) -> None:
        """Start ``phase``, with ``deadline_s`` seconds to finish it (None: no bound)."""
        self.phase = phase
        self.since = time.monotonic()
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None
        if deadline_s is not None:
            self.timer = asyncio.get_running_loop().call_later(deadline_s, self._expire)

    def _expire(self) -> None:
        self.expired = self.phase
        _hard_close(self.writer)

    def done(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


class MetricsServer(ClosingContext):
    """A running ``/metrics`` HTTP server; made by :func:`start_http_server`.

    ``port`` is the bound port (the real one when 0 was asked for), ``addr``
    the bound address. ``close()`` stops accepting, closes every connection
    (a response being written is cut off), stops the loop thread and
    releases the port; it is idempotent and thread-safe. Used as a context
    manager, ``__enter__`` returns the server and ``__exit__`` closes it.
    Threads: one loop thread and ``max_threads`` render threads, all daemon.
    """

    def __init__(
        self,
        sock: socket.socket,
        collector: Collector,
        *,
        max_connections: int,
        max_threads: int,
        request_timeout_s: float,
    ) -> None:
        self._collector = collector
        self._max_connections = max_connections
        self._timeout = request_timeout_s
        self._address = sock.getsockname()
        name = f"atomicmetrics-http-{self.port}"
        self._connections: dict[_Connection, None] = {}  # loop thread only; oldest first
        self._next_warning = 0.0  # loop thread only: monotonic time of the next WARNING
        self._closing = threading.Lock()
        self._closed = False
        self._sock = sock
        self._pid = os.getpid()
        # poll(), not epoll: a fork child shares an epoll instance with its
        # parent, so the child closing its copy of the loop (or its GC doing
        # so) would unregister the parent's sockets; poll keeps its state in
        # this process.
        self._loop = asyncio.SelectorEventLoop(_selector())
        self._loop.set_exception_handler(self._on_loop_error)
        self._render = _RenderThreads(max_threads, name)
        try:
            self._server = self._loop.run_until_complete(self._listen(sock))
        except BaseException:
            self._render.close()
            self._loop.close()
            raise
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    async def _listen(self, sock: socket.socket) -> asyncio.Server:
        # limit: a line longer than this raises ValueError in readline().
        return await asyncio.start_server(self._serve, sock=sock, limit=_MAX_LINE)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._address[1])

    @property
    def addr(self) -> str:
        """The address the server listens on."""
        return str(self._address[0])

    # ---- connections (loop thread) -----------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer)
        if len(self._connections) >= self._max_connections and not self._evict(0.0):
            _log.debug("%s: %d connections open, answering 503", conn.peer, len(self._connections))
            writer.write(_serialize(_plain_response(HTTPStatus.SERVICE_UNAVAILABLE), False))
            await _linger(reader, writer)
            _hard_close(writer)
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        self._connections[conn] = None
        clean = False
        try:
            if await self._serve_requests(conn, reader):
                await _linger(reader, writer)
            conn.enter(_RECEIVING, self._timeout)
            writer.close()  # flush what is left, then close
            await writer.wait_closed()
            clean = conn.expired is None
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            if conn.expired is None:
                _log.debug("client %s went away: %r", conn.peer, e)
        except Exception:
            _log.exception("serving a request from %s failed", conn.peer)
        finally:
            conn.done()
            if conn.expired is not None:
                _log.debug("client %s timed out (%s)", conn.peer, conn.expired)
            self._connections.pop(conn, None)  # gone already if evicted
            if not clean:
                _hard_close(writer)
                # Retrieves the error the connection ended with (else asyncio
                # logs "Future exception was never retrieved" when collected).
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _serve_requests(self, conn: _Connection, reader: asyncio.StreamReader) -> bool:
        """Answer requests until the connection is to end; True if it ends
        with input unread (a request refused, a request body)."""
        while True:
            conn.enter(_IDLE, _IDLE_TIMEOUT_S)
            first = await reader.read(1)
            if not first:
                return False  # closed between requests (or idle too long)
            conn.enter(_SENDING, self._timeout)
            try:
                request = await _read_head(reader, first)
            except _BadRequest as bad:
                _log.debug("%s: %s", conn.peer, bad)
                await self._send(conn, _plain_response(bad.status), keep_alive=False)
                return True
            conn.enter(_RENDERING, None)
            response = await self._respond(request)
            # A request body is never read: the connection ends after it.
            unread = request.has_body() or request.method not in ("GET", "HEAD")
            keep_alive = request.keep_alive() and not unread
            _log.debug(
                '%s - "%s" %d %d', conn.peer, request.line, response.status, len(response.body)
            )
            await self._send(conn, response, keep_alive=keep_alive)
            if not keep_alive:
                return unread

    async def _respond(self, request: _Request) -> MetricsResponse:
        try:
            return await self._render.submit(
                metrics_response,
                self._collector,
                request.method,
                request.path,
                request.headers.get("accept"),
                request.headers.get("accept-encoding"),
            )
        except Exception:
            _log.exception("collecting metrics for %s failed", request.path)
            return _plain_response(HTTPStatus.INTERNAL_SERVER_ERROR)

    async def _send(self, conn: _Connection, response: MetricsResponse, keep_alive: bool) -> None:
        conn.enter(_RECEIVING, self._timeout)
        conn.writer.write(_serialize(response, keep_alive))
        await conn.writer.drain()

    def _evict(self, share: float) -> int:
        """Close connections to make room; returns how many.

        Closes ``share`` of the idle connections (at least one), oldest
        first, or, when none is idle, the slowest client: the connection that
        has been sending its request or reading its response the longest.
        Connections being rendered are never closed.
        """
        idle = [c for c in self._connections if c.phase == _IDLE]
        victims = idle[: max(1, int(len(idle) * share))]
        if not victims:
            slow = [c for c in self._connections if c.phase in (_SENDING, _RECEIVING)]
            victims = [min(slow, key=lambda c: c.since)] if slow else []
        for conn in victims:
            _log.debug("closing %s connection %s to make room", conn.phase, conn.peer)
            _hard_close(conn.writer)
            del self._connections[conn]  # the slot is free now; its handler unwinds
        return len(victims)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: out-of-descriptor episodes and bugs.

        asyncio calls it when ``accept()`` fails with EMFILE and the like
        (and pauses accepting for one second itself); half of the idle
        connections are closed to free descriptors. At most one WARNING a
        minute.
        """
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            freed = self._evict(0.5)
            now = time.monotonic()
            if now >= self._next_warning:
                self._next_warning = now + _WARNING_INTERVAL_S
                _log.warning(
                    "metrics server on port %d: accept() failed (%s); pausing accepts for 1 s%s",
                    self.port,
                    errno.errorcode.get(exc.errno or 0, exc.errno),
                    f", closed {freed} connections" if freed else "",
                )
            return
        _log.error("metrics server: %s", context.get("message"), exc_info=exc)

    # ---- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Stop serving and release the port (bounded wait; idempotent)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        if self._pid != os.getpid():
            # A fork child: the loop and its threads are the parent's. Release
            # this process's copy of the listening socket, touch nothing else.
            self._sock.close()
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            done.result(_JOIN_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_JOIN_TIMEOUT_S)
            self._render.close()
            if not self._thread.is_alive():
                self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        for conn in list(self._connections):
            _hard_close(conn.writer)
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        while self._connections and time.monotonic() < deadline:
            await asyncio.sleep(0.001)  # their handlers unwind

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<MetricsServer {state} on {self.addr}:{self.port}>"


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    registry: Collector = REGISTRY,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_threads: int = DEFAULT_MAX_THREADS,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> MetricsServer:
    """Serve ``registry`` on ``http://addr:port/metrics``.

    Port 0 picks a free port (read it back from ``.port``). Returns once the
    socket is listening; everything runs on daemon threads, so a server
    never keeps the process alive. Content negotiation, gzip, ``HEAD``, 404
    and 405 are as described in ``atomicmetrics.metrics_endpoint``; the
    limits (``max_connections`` open at once, ``max_threads`` scrapes
    rendered at once, ``request_timeout_s`` to send a request head and to
    read a response) in this module's docstring. Raises ``OSError`` if the
    address cannot be bound (port in use, bad address), ``ValueError`` for a
    limit below 1 (or a timeout that is not a positive number). Binds
    ``127.0.0.1`` by default: pass ``addr="0.0.0.0"`` (or ``"::"``) to be
    reachable from other hosts. No TLS, no authentication.
    """
    for name, value in (("max_connections", max_connections), ("max_threads", max_threads)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, not {value}")
    if isinstance(request_timeout_s, bool) or not isinstance(request_timeout_s, (int, float)):
        raise TypeError(f"request_timeout_s must be a number, not {type(request_timeout_s)}")
    if not request_timeout_s > 0 or request_timeout_s == float("inf"):
        raise ValueError(f"request_timeout_s must be a finite number > 0, not {request_timeout_s}")
    info = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, sockaddr = info[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        # socketserver's default backlog is 5: with dozens of scrapers opening
        # connections at once, SYNs past it are dropped and retried by the
        # client's kernel after 1 s, then 3 s (tests/stress/test_http_load.py
        # measured a p99 of 3.5 s). The kernel caps it at net.core.somaxconn.
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
        return MetricsServer(
            sock,
            registry,
            max_connections=max_connections,
            max_threads=max_threads,
            request_timeout_s=float(request_timeout_s),
        )
    except BaseException:
        sock.close()
        raise
