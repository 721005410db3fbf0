"""The local, read-only web server of ``gd ui``: the standard library's HTTP server.

Read-only by construction: only GET and HEAD are answered (anything else is 405),
every route is matched exactly against a fixed table (a path that does not match,
``..`` included, is 404), and no route writes.  It binds to 127.0.0.1 unless told
otherwise and, bound to loopback, answers only requests whose ``Host`` names the
loopback (a page on another site cannot read it through DNS rebinding).  Pages
load nothing from anywhere (a Content-Security-Policy forbids it), so it works
offline.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gitdata.errors import GitDataError, InvalidInputError, NotFoundError
from gitdata.ui import pages
from gitdata.ui.catalog import Catalog
from gitdata.ui.html import Html
from gitdata.ui.views import Views

_ID = r"[0-9a-f]{32}"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8000`` -> ``::1``)."""
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class _Handler(BaseHTTPRequestHandler):
    server_version = "gitdata-ui"
    sys_version = ""
    views: Views
    loopback_only: bool
    routes: list[tuple[re.Pattern[str], Callable[..., Html]]]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        return  # the server is quiet: gd ui prints where it listens, and errors

    # ------------------------------------------------------------ methods
    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _refuse_method(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            pages.error(405, "this server only reads"),
            True,
            {"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    # ------------------------------------------------------------ routing
    def _host_ok(self) -> bool:
        return not self.loopback_only or is_loopback(host_name(self.headers.get("Host") or ""))

    def _answer(self, send_body: bool) -> None:
        if not self._host_ok():
            self._send(
                HTTPStatus.MISDIRECTED_REQUEST,
                pages.error(421, "this server answers only requests for the loopback"),
                send_body,
            )
            return
        parts = urlsplit(self.path)
        try:
            params = {k: v[-1] for k, v in parse_qs(parts.query, max_num_fields=20).items()}
        except ValueError:
            self._send(HTTPStatus.BAD_REQUEST, pages.error(400, "too many query fields"), send_body)
            return
        for pattern, render in self.routes:
            m = pattern.fullmatch(parts.path)
            if m is None:
                continue
            try:
                body = render(*m.groups(), params)
            except NotFoundError as exc:
                self._send(HTTPStatus.NOT_FOUND, pages.error(404, exc.message), send_body)
            except InvalidInputError as exc:
                self._send(HTTPStatus.BAD_REQUEST, pages.error(400, exc.message), send_body)
            except GitDataError as exc:
                self._send(
                    HTTPStatus.INTERNAL_SERVER_ERROR, pages.error(500, exc.message), send_body
                )
            except Exception as exc:  # noqa: BLE001 - one bad page must not stop the server
                if os.environ.get("GD_DEBUG"):
                    traceback.print_exc()
                self._send(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    pages.error(500, f"internal error: {type(exc).__name__}"),
                    send_body,
                )
            else:
                self._send(HTTPStatus.OK, body, send_body)
            return
        self._send(HTTPStatus.NOT_FOUND, pages.error(404, "no such page"), send_body)

    def _send(
        self, status: HTTPStatus, body: Html, send_body: bool, extra: dict[str, str] | None = None
    ) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if send_body:
            self.wfile.write(data)


def _page_number(params: dict[str, str]) -> int:
    try:
        return max(1, int(params.get("page", "1")))
    except ValueError:
        raise InvalidInputError("page must be a number") from None


def make_server(
    catalog: Catalog, host: str = "127.0.0.1", port: int = 0, *, repo: bool = True
) -> ThreadingHTTPServer:
    """A server for ``catalog`` on ``host:port`` (port 0: any free one), not yet serving.

    ``repo`` adds the git timeline when the process runs inside a repository.
    """
    views = Views(catalog, pages.Links(), timeline=repo)
    routes: list[tuple[re.Pattern[str], Callable[..., Html]]] = [
        (re.compile(r"/"), lambda p: views.index(p.get("q", ""))),
        (re.compile(rf"/version/({_ID})"), lambda vid, p: views.version(vid)),
        (
            re.compile(rf"/version/({_ID})/files"),
            lambda vid, p: views.files(vid, _page_number(p), p.get("q", "")),
        ),
        (
            re.compile(r"/compare"),
            lambda p: views.compare(p.get("source", ""), p.get("target", "")),
        ),
        (re.compile(r"/timeline"), lambda p: views.timeline()),
    ]
    handler = type(
        "GitdataUiHandler",
        (_Handler,),
        {"views": views, "loopback_only": is_loopback(host), "routes": routes},
    )
    kind = type(
        "GitdataUiServer",
        (ThreadingHTTPServer,),
        {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET},
    )
    server = kind((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve on a daemon thread (tests, and ``gd ui`` while it waits for Ctrl-C)."""
    thread = threading.Thread(target=server.serve_forever, name="gd-ui", daemon=True)
    thread.start()
    return thread
