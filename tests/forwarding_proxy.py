"""A forwarding HTTP server on 127.0.0.1: what a real box's nginx is to its edge app and cloud.

Every request, whatever its path (`/_sim/...` included, as a real box forwards unknown paths to
its cloud), is passed to the upstream server and its answer passed back. The proxy records
each method and path it forwarded, so a test can prove what edgeload asked of a given endpoint.

    with ForwardingProxy(sim.url) as proxy:
        env["GROUNDLIGHT_ENDPOINT"] = proxy.url
        ...
        assert not proxy.paths_starting("/_sim/")
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

# hop-by-hop headers (RFC 9110 7.6.1) are not forwarded
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class ForwardingProxy:
    def __init__(self, upstream_url: str) -> None:
        parsed = urlparse(upstream_url)
        if parsed.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the test proxy forwards to loopback only")
        self.upstream = (parsed.hostname, parsed.port or 80)
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths_starting(self, prefix: str) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests if path.startswith(prefix)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                except OSError:
                    self.send_error(502, "upstream unreachable")
                    return
                finally:
                    conn.close()
                self.send_response(answer.status, answer.reason)
                for k, v in answer.getheaders():
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        return Handler
