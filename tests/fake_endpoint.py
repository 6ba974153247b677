"""A scriptable HTTP(S) server on 127.0.0.1 for tests that need exact control of the answers
(retry counting, TLS, odd status pages) beyond what the simulator offers.

    with FakeEndpoint({"GET /health/live": (200, {"status": "alive"})}) as fake:
        fake.url            # http://127.0.0.1:<port>
        fake.hits["GET /health/live"]
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The answers a groundlight SDK needs to construct a client.
ME = {
    "email": "load@example.com",
    "username": "load",
    "group": {"id": 1, "name": "g"},
    "is_superuser": False,
}
SDK_ROUTES: dict[str, Any] = {
    "GET /device-api/v1/me": (200, ME),
    "GET /health/live": (200, {"status": "alive"}),
}

Answer = tuple[int, Any] | Callable[[str, str, bytes], tuple[int, Any]]


class FakeEndpoint:
    def __init__(self, routes: dict[str, Answer], *, certfile: str | None = None):
        self.routes = dict(routes)
        self.hits: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        self._connections: list = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                fake._connections.append(self.request)

            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                key = f"{self.command} {path}"
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.hits[key] += 1
                fake.headers.append(dict(self.headers))
                answer = fake.routes.get(key, (404, {"detail": "Not Found"}))
                if callable(answer):
                    answer = answer(self.command, self.path, body)
                status, payload = answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Gone as a dead server is: kept-alive connections are closed too."""
        self.server.shutdown()
        self.server.server_close()
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_self_signed_cert(directory: Path) -> Path | None:
    """A PEM file with a self-signed certificate for 127.0.0.1 and its key (None without the
    openssl tool)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    both = directory / "server.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return both
