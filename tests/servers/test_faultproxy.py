"""The fault proxy itself: exact forwarding, cuts, refusal, healing, throttles."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time

import pytest

from servers.faultproxy import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):  # clients here get cut off on purpose
            while data := self.request.recv(65536):
                self.request.sendall(data)


class _Sink(socketserver.BaseRequestHandler):
    """Counts what it receives (for cuts in the client -> server direction)."""

    received = 0

    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                type(self).received += len(data)


def serve(handler) -> socketserver.ThreadingTCPServer:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def echo():
    server = serve(_Echo)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def round_trip(port: int, payload: bytes) -> bytes:
    """Send ``payload`` through the port; what came back (nothing if refused or cut)."""
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:  # a refusing proxy may reset the connection during connect
        return b""
    with conn as s:
        got = bytearray()

        def reader() -> None:
            with contextlib.suppress(OSError):
                while len(got) < len(payload):
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    got.extend(chunk)

        t = threading.Thread(target=reader)
        t.start()
        with contextlib.suppress(OSError):  # a cut or refused connection
            s.sendall(payload)
        t.join(timeout=10)
        return bytes(got)


def test_forwards_bytes_exactly_and_counts(echo):
    payload = bytes(range(256)) * 8192  # 2 MiB, every byte value
    with FaultProxy("127.0.0.1", echo) as proxy:
        assert round_trip(proxy.port, payload) == payload
        echoed: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: echoed.append(len(round_trip(proxy.port, b"x" * 100_000)))
            )
            for _ in range(12)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert echoed == [100_000] * 12
        # a pump counts what it forwarded just after the send, so the client can have
        # every byte a moment before the count does: wait for the counts to settle
        total = len(payload) + 12 * 100_000
        deadline = time.monotonic() + 10
        while (proxy.bytes_up, proxy.bytes_down) != (total, total) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.connections == 13
        assert proxy.bytes_up == proxy.bytes_down == total


def test_cut_up_delivers_exactly_n_bytes_then_resets():
    _Sink.received = 0
    server = serve(_Sink)
    with FaultProxy("127.0.0.1", server.server_address[1]) as proxy:
        proxy.cut_after(up=300_000)
        with (
            socket.create_connection(("127.0.0.1", proxy.port)) as s,
            pytest.raises(OSError),
        ):
            for _ in range(100):
                s.sendall(b"y" * 65536)
                time.sleep(0.001)
            s.recv(1)  # a reset connection raises here at the latest
        assert proxy.cut_event.wait(5)
        deadline = time.time() + 5
        while _Sink.received < 300_000 and time.time() < deadline:
            time.sleep(0.01)
        assert _Sink.received == 300_000 == proxy.bytes_up
        # the network stays down: a new connection is reset at once
        with socket.create_connection(("127.0.0.1", proxy.port)) as s:
            s.settimeout(5)
            with pytest.raises(OSError):
                s.sendall(b"z")
                assert s.recv(1) == b""
                raise ConnectionResetError  # an orderly close also means no service
        proxy.heal()
    server.shutdown()
    server.server_close()


def test_cut_down_gives_at_most_n_bytes(echo):
    with FaultProxy("127.0.0.1", echo) as proxy:
        proxy.cut_after(down=50_000)
        got = round_trip(proxy.port, b"q" * 400_000)
        assert len(got) <= 50_000 and proxy.bytes_down == 50_000
        proxy.heal()
        assert round_trip(proxy.port, b"ok" * 1000) == b"ok" * 1000


def test_refuse_heal_and_set_upstream(echo):
    other = serve(_Echo)
    with FaultProxy("127.0.0.1", 1) as proxy:  # nothing listens on port 1
        assert round_trip(proxy.port, b"hello") == b""
        proxy.set_upstream("127.0.0.1", echo)
        assert round_trip(proxy.port, b"hello") == b"hello"
        proxy.refuse()
        assert round_trip(proxy.port, b"hello") == b""
        proxy.heal()
        proxy.set_upstream("127.0.0.1", other.server_address[1])
        assert round_trip(proxy.port, b"again") == b"again"
    other.shutdown()
    other.server_close()


def test_bandwidth_and_latency_slow_things_down(echo):
    with FaultProxy("127.0.0.1", echo) as proxy:
        proxy.bandwidth = 4 * 1024 * 1024
        start = time.monotonic()
        assert round_trip(proxy.port, b"b" * (2 * 1024 * 1024)) == b"b" * (2 * 1024 * 1024)
        assert time.monotonic() - start >= 0.4  # 2 MiB at 4 MiB/s, a lower bound only
        proxy.bandwidth = None
        proxy.latency = 0.2
        start = time.monotonic()
        assert round_trip(proxy.port, b"ping") == b"ping"
        assert time.monotonic() - start >= 0.4  # once each way
