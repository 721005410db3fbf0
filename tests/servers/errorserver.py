"""An HTTP server that answers every request with one cloud-shaped error.

The real SDKs (botocore, gcsfs, azure-storage-blob) talk to it as to their
service, so gd's error mapping is tested on the exceptions they really raise:
throttling that outlasts every retry, and the GCS credential / permission errors
fake-gcs-server cannot produce (it checks no credentials).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CloudErrorServer:
    """``with CloudErrorServer("s3", 503, "SlowDown") as srv: ... srv.url``."""

    def __init__(self, cloud: str, status: int, code: str, message: str = "refused") -> None:
        self.cloud, self.status, self.code, self.message = cloud, status, code, message
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CloudErrorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def body(self) -> tuple[bytes, str, dict[str, str]]:
        """(body, content type, extra headers) in the service's own error format."""
        if self.cloud == "gcs":
            doc = {
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "errors": [{"reason": self.code, "message": self.message}],
                }
            }
            return json.dumps(doc).encode(), "application/json", {}
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{self.code}</Code><Message>{self.message}</Message>"
            "<RequestId>gd-test</RequestId></Error>"
        ).encode()
        headers = {"x-ms-error-code": self.code} if self.cloud == "azure" else {}
        return xml, "application/xml", headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                with outer._lock:
                    outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body, ctype, extra = outer.body()
                self.send_response(outer.status)
                self.send_header("Content-Type", ctype)
                for key, value in extra.items():
                    self.send_header(key, value)
                if self.command == "HEAD":
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        return Handler
