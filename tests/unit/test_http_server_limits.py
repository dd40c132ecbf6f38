"""start_http_server against hostile and careless clients: limits, slow
clients, connection floods, running out of file descriptors, fork."""

from __future__ import annotations

import http.client
import os
import pathlib
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from atomicmetrics import MetricsServer, Registry, generate_text, start_http_server
from atomicmetrics.http_server import DEFAULT_MAX_THREADS
from atomicmetrics.samples import MetricFamily
from tests.helpers import StaticCollector, running, wait_until

TIMEOUT = 10.0


#: A body of 32 MiB, cheap to render (one help text): more than the kernel's
#: socket buffers of both ends hold (Linux grows a send buffer to 4 MiB).
BIG = StaticCollector([MetricFamily("big", "gauge", "h" * (32 << 20), ())])


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def scrape(port: int) -> tuple[int, float]:
    """One GET /metrics on a new connection: status and seconds taken."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - t0
    finally:
        conn.close()


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    with start_http_server(0, registry=Registry()) as srv:
        yield srv


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"GET /metrics HTTP/1.1\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n", 431),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /metrics HTTP/one\r\n\r\n", 400),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
    ],
    ids=["uri", "headers", "header-line", "garbage", "no-colon", "bad-version", "http2"],
)
def test_input_limits_and_malformed_requests(
    server: MetricsServer, request_bytes: bytes, status: int
) -> None:
    answer = raw_exchange(server.port, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"\r\nConnection: close\r\n" in answer
    assert scrape(server.port)[0] == 200  # and the server serves on


def test_http_1_0_closes_unless_kept_alive(server: MetricsServer) -> None:
    answer = raw_exchange(server.port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    with socket.create_connection(("127.0.0.1", server.port), TIMEOUT) as sock:
        sock.sendall(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
        sock.settimeout(2)
        seen = b""
        while seen.count(b"HTTP/1.1 200 OK") < 2:
            seen += sock.recv(65536)  # both answered on one connection (pipelined)


def test_connections_hold_no_thread(server: MetricsServer) -> None:
    """The standard library's server started a thread per connection: 60
    clients doing nothing held 60 threads, for as long as they liked."""
    base = threading.active_count()
    socks = [socket.create_connection(("127.0.0.1", server.port), TIMEOUT) for _ in range(30)]
    for s in socks[:15]:  # half send part of a request and stall
        s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
    try:
        time.sleep(0.5)
        assert threading.active_count() == base
        assert scrape(server.port)[0] == 200
        assert threading.active_count() == base
    finally:
        for s in socks:
            s.close()
    assert base <= 2 + DEFAULT_MAX_THREADS + 1  # pytest's main thread + loop + renderers


def test_slow_clients_cannot_starve_scrapes() -> None:
    """Every connection slot taken by clients that stall sending a request or
    reading a response: a scrape still gets in (the slowest is closed to make
    room) and is answered in well under a second of server time."""
    stalled: list[socket.socket] = []
    with start_http_server(0, registry=BIG, max_connections=20) as srv:
        try:
            for i in range(40):
                s = socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                if i % 2:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never ends
                else:
                    s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")  # never reads the answer
                stalled.append(s)
            time.sleep(0.5)
            for _ in range(3):
                status, _ = scrape(srv.port)
                assert status == 200
        finally:
            for s in stalled:
                s.close()


def test_full_of_scrapes_being_rendered_answers_503() -> None:
    """The one case where a new connection cannot make room: every open one
    is being rendered (those are never cut)."""
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def collect(self) -> list[MetricFamily]:
            entered.set()
            assert release.wait(TIMEOUT)
            return []

    with start_http_server(0, registry=Slow(), max_connections=1, max_threads=1) as srv:
        first = threading.Thread(target=scrape, args=(srv.port,))
        first.start()
        try:
            assert entered.wait(TIMEOUT)
            answer = raw_exchange(srv.port, b"GET /metrics HTTP/1.1\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        finally:
            release.set()
            first.join(TIMEOUT)
        assert scrape(srv.port)[0] == 200


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closes ``sock`` within ``within_s`` (reads and
    discards what it sent meanwhile)."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def test_request_timeout_closes_slow_senders_and_readers() -> None:
    with start_http_server(0, registry=BIG, request_timeout_s=0.5) as srv:
        sender = socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
        reader = socket.create_connection(("127.0.0.1", srv.port), TIMEOUT)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with sender, reader:
            t0 = time.monotonic()
            sender.sendall(b"G")
            for byte in b"ET /metrics HTTP/1.1\r\n":  # one byte every 0.1 s: slowloris
                time.sleep(0.1)
                try:
                    sender.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    break
            assert _closed_by_server(sender, 5)
            assert time.monotonic() - t0 < 4  # 0.5 s allowed, not the 2.3 s it took
            reader.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            time.sleep(2)  # the response stalls on the full buffers
            received = 0
            reader.settimeout(1)
            try:
                while chunk := reader.recv(65536):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < len(generate_text(BIG))  # cut off, not completed
        assert scrape(srv.port)[0] == 200


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        start_http_server(0, max_connections=0)
    with pytest.raises(ValueError, match="max_threads"):
        start_http_server(0, max_threads=0)
    with pytest.raises(TypeError, match="max_threads"):
        start_http_server(0, max_threads=2.0)  # type: ignore[arg-type]
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="request_timeout_s"):
            start_http_server(0, request_timeout_s=bad)


EMFILE_SERVER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
import atomicmetrics as am
registry = am.Registry()
registry.counter("up", "Up.").inc()
server = am.start_http_server(0, registry=registry)
print(server.port, flush=True)
time.sleep(600)
"""


def _cpu_seconds(pid: int) -> float:
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_out_of_file_descriptors_backs_off_instead_of_spinning() -> None:
    """At the descriptor limit, accept() fails with EMFILE for as long as
    clients wait in the backlog; the standard library's accept loop retried
    at once, at 100% CPU, while scrapes timed out."""
    argv = [sys.executable, "-c", EMFILE_SERVER]
    with running(argv) as proc:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port), TIMEOUT) for _ in range(80)]
        try:
            time.sleep(1.0)  # the server ran out: the rest wait in the backlog
            before = _cpu_seconds(proc.pid)
            time.sleep(2.0)
            spent = _cpu_seconds(proc.pid) - before
            assert spent < 0.5, f"the server burnt {spent:.2f} s of CPU in 2 s"
            status, _ = wait_until(
                lambda: _try_scrape(port), "a scrape past 80 idle connections", 30
            )
            assert status == 200
        finally:
            for c in clients:
                c.close()
        assert proc.poll() is None


def _try_scrape(port: int) -> tuple[int, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None


def test_a_fork_child_closing_its_copy_leaves_the_parent_serving(server: MetricsServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            server.close()
            code = 0
        finally:
            os._exit(code)
    # (The standard library's server hung here: its close() waited for an
    # accept loop that exists only in the parent.)
    deadline = time.monotonic() + 20
    while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if waited[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the child's close() hung")
    assert os.waitstatus_to_exitcode(waited[1]) == 0
    for _ in range(3):
        assert scrape(server.port)[0] == 200
