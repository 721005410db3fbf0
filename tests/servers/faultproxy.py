"""A TCP proxy that injects network faults between gd and a storage server.

    with FaultProxy("127.0.0.1", server_port) as proxy:
        # point the client at proxy.url instead of the server
        proxy.latency = 0.05           # seconds added before each forwarded read
        proxy.bandwidth = 4_000_000    # bytes/second per direction, all connections
        proxy.cut_after(up=1_000_000)  # reset everything after 1 MB client -> server
        ...
        proxy.heal()                   # the network is back

A cut forwards exactly the armed number of bytes, then resets every open
connection (RST on both sides) and resets every new one on accept until
``heal()``: to the client it looks like the network went away.  Stdlib only;
one accept thread and one thread per direction of each connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

_READ = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP RST (ECONNRESET)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        # wakes a thread blocked in recv() on it (close alone would not); sends nothing
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class _Bucket:
    """A token bucket shared by every connection of one direction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = time.monotonic()

    def take(self, amount: int, rate: float | None) -> None:
        if not rate:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(rate, self._tokens + (now - self._last) * rate)
            self._last = now
            self._tokens -= amount
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class FaultProxy:
    """Forward TCP from ``listen_host:listen_port`` to the upstream, with faults on demand."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listen = (listen_host, listen_port)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._stopping = False
        self._broken = False
        self._budget: dict[str, int | None] = {"up": None, "down": None}
        self._buckets = {"up": _Bucket(), "down": _Bucket()}
        self.latency = 0.0
        self.bandwidth: float | None = None
        self.cut_event = threading.Event()
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self._listen[0]}:{self.port}"

    def start(self) -> FaultProxy:
        """Listen and start forwarding; returns self."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(self._listen)
        server.listen(128)
        server.settimeout(0.2)  # the accept loop checks for stop() this often
        self._server = server
        self.port = server.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        """Close the listener and every connection; idempotent."""
        self._stopping = True
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        self._reset_all()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- faults
    def set_upstream(self, host: str, port: int) -> None:
        """New connections go to ``host:port`` (e.g. a restarted server)."""
        self._upstream = (host, port)

    def cut_after(self, up: int | None = None, down: int | None = None) -> None:
        """Reset everything once ``up`` more bytes went client->server or ``down``
        more bytes server->client; new connections are reset until :meth:`heal`."""
        with self._lock:
            self._budget = {"up": up, "down": down}
            self.cut_event.clear()

    def refuse(self) -> None:
        """The network goes away now: reset open connections and every new one."""
        with self._lock:
            self._broken = True
        self.cut_event.set()
        self._reset_all()

    def heal(self) -> None:
        """Traffic flows again (latency and bandwidth settings are kept)."""
        with self._lock:
            self._broken = False
            self._budget = {"up": None, "down": None}

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_up = self.bytes_down = self.connections = 0

    # ------------------------------------------------------------ internals
    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _reset_all(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            _reset(sock)

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._stopping:
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self.connections += 1
                broken = self._broken
            if broken:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns |= {client, upstream}
            self._spawn(self._pump, client, upstream, "up")
            self._spawn(self._pump, upstream, client, "down")

    def _allowance(self, direction: str, wanted: int) -> tuple[int, bool]:
        """How many of ``wanted`` bytes may pass, and whether the cut fires after them."""
        with self._lock:
            if self._broken:
                return 0, True
            budget = self._budget[direction]
            if budget is None:
                return wanted, False
            allowed = min(wanted, budget)
            self._budget[direction] = budget - allowed
            return allowed, budget - allowed <= 0

    def _count(self, direction: str, amount: int) -> None:
        with self._lock:
            if direction == "up":
                self.bytes_up += amount
            else:
                self.bytes_down += amount

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        try:
            while True:
                data = src.recv(_READ)
                if not data:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    return
                if self.latency:
                    time.sleep(self.latency)
                self._buckets[direction].take(len(data), self.bandwidth)
                allowed, cut = self._allowance(direction, len(data))
                if allowed:
                    dst.sendall(data[:allowed])
                    self._count(direction, allowed)
                if cut:
                    with self._lock:
                        self._broken = True
                    self.cut_event.set()
                    self._reset_all()
                    return
        except OSError:
            # one side went away: take the other down too (RST, as a network would)
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            _reset(src)
            _reset(dst)
