"""A real HTTP receiver for webhooks: answers 500 ``failures`` times, then 200."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """An HTTP server that answers 500 (with ``failure_body``) ``failures`` times, then
    200; ``got`` holds each request's headers and body."""

    def __init__(self, failures: int, failure_body: bytes = b"<b>nope</b>") -> None:
        self.failures = failures
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                code = 500 if len(outer.got) <= outer.failures else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(failure_body if code == 500 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
