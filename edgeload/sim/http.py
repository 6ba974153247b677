"""A small, fast asyncio HTTP/1.1 server for the simulated endpoint (standard library only).

Why not a framework: the simulator must never be what limits a load test, and a plain
`asyncio.Protocol` with one task per connection serves several thousand keep-alive requests
per second from one core, with no dependency the project does not already have.

Supported: keep-alive and pipelining (requests on one connection are answered in order),
`Content-Length` request bodies, `Expect: 100-continue`, fixed-length responses and chunked
streaming responses (Kubernetes watch streams). Chunked *request* bodies get 411. A request
whose body exceeds `max_body` gets 413 and the connection is closed; a malformed request gets
400 and the connection is closed. Nothing a client sends can stop the server.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# A connection that queued this many requests stops being read until they are answered.
MAX_PIPELINED = 16

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class Request:
    """One parsed request. Header names are lower-case; `query` is parsed on first use."""

    __slots__ = ("method", "target", "path", "query_string", "headers", "body", "conn", "_query")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, conn: int = 0
    ) -> None:
        self.method = method
        self.target = target
        path, _, qs = target.partition("?")
        self.path = unquote(path) if "%" in path else path
        self.query_string = qs
        self.headers = headers
        self.body = body
        # the number of the connection it came on (in accept order): a multi-process server
        # hands each connection to one of its workers
        self.conn = conn
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; a repeated name keeps its last value."""
        if self._query is None:
            self._query = dict(parse_qsl(self.query_string, keep_blank_values=True))
        return self._query

    def json(self) -> object:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body or b"null")


class Response:
    """A complete response with a fixed-length body."""

    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


class StreamResponse:
    """A chunked response whose body comes from an async iterator of byte strings."""

    __slots__ = ("status", "chunks", "content_type")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        status: int = 200,
        content_type: str = "application/json",
    ) -> None:
        self.status = status
        self.chunks = chunks
        self.content_type = content_type


class Drop:
    """Answer nothing: reset the connection (a dropped connection or a down endpoint)."""


DROP = Drop()

Handler = Callable[[Request], Awaitable["Response | StreamResponse | Drop"]]


def json_response(obj: object, status: int = 200) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode())


def text_response(text: str, status: int) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


class _DateCache:
    """The Date header changes once a second; format it once a second."""

    second = -1
    value = b""

    @classmethod
    def get(cls) -> bytes:
        now = int(time.time())
        if now != cls.second:
            cls.second = now
            cls.value = formatdate(now, usegmt=True).encode()
        return cls.value


def _head(
    status: int, content_type: str, extra: list[tuple[str, str]] | None, close: bool
) -> bytes:
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, "Unknown").encode()),
        b"server: edgeload-sim\r\ndate: " + _DateCache.get() + b"\r\n",
        b"content-type: " + content_type.encode() + b"\r\n",
    ]
    if extra:
        for name, value in extra:
            lines.append(f"{name}: {value}\r\n".encode())
    if close:
        lines.append(b"connection: close\r\n")
    return b"".join(lines)


class _Connection(asyncio.Protocol):
    """One client connection: parses requests as bytes arrive, answers them in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.index = server.next_connection_index()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending: collections.deque[Request | Response] = collections.deque()
        self.worker: asyncio.Task | None = None
        self.closed = False
        self.reading = True
        self.stop_parsing = False
        self.write_ok = asyncio.Event()
        self.write_ok.set()
        # state of a request whose head is parsed but whose body is still arriving
        self.partial: tuple[str, str, dict[str, str], int, bool] | None = None

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        self.write_ok.set()
        if self.worker is not None and not self.worker.done():
            self.worker.cancel()

    def pause_writing(self) -> None:
        self.write_ok.clear()

    def resume_writing(self) -> None:
        self.write_ok.set()

    def data_received(self, data: bytes) -> None:
        if self.stop_parsing:
            return
        self.buf += data
        try:
            self._parse()
        except _BadRequest as exc:
            self.stop_parsing = True
            self.pending.append(json_response({"detail": exc.detail}, exc.status))
            self._ensure_worker()

    # -- parsing -----------------------------------------------------------------------------
    def _parse(self) -> None:
        buf = self.buf
        while True:
            if self.partial is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise _BadRequest(431, "Request header fields too large")
                    return
                self.partial = self._parse_head(bytes(buf[:end]))
                del buf[: end + 4]
                method, target, headers, length, _ = self.partial
                if length > self.server.max_body:
                    raise _BadRequest(413, "Request entity too large")
                if (
                    length
                    and len(buf) < length
                    and headers.get("expect", "").lower() == "100-continue"
                ):
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            method, target, headers, length, _ = self.partial
            if len(buf) < length:
                return
            body = bytes(buf[:length]) if length else b""
            if length:
                del buf[:length]
            self.partial = None
            self.pending.append(Request(method, target, headers, body, self.index))
            self._ensure_worker()
            if len(self.pending) >= MAX_PIPELINED and self.reading:
                self.reading = False
                self.transport.pause_reading()
            if not buf:
                return

    @staticmethod
    def _parse_head(head: bytes) -> tuple[str, str, dict[str, str], int, bool]:
        try:
            text = head.decode("latin-1")
            request_line, *header_lines = text.split("\r\n")
            method, target, version = request_line.split(" ")
        except ValueError:
            raise _BadRequest(400, "Malformed request line") from None
        if not version.startswith("HTTP/1.") or not target:
            raise _BadRequest(400, "Unsupported HTTP version")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, "Malformed header line")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _BadRequest(411, "Chunked request bodies are not supported; send Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequest(400, "Malformed Content-Length") from None
        if length < 0:
            raise _BadRequest(400, "Malformed Content-Length")
        conn = headers.get("connection", "").lower()
        keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        if not keep_alive:
            headers["connection"] = "close"
        return method, target, headers, length, keep_alive

    # -- answering ---------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        handler = self.server.handler
        while self.pending and not self.closed:
            item = self.pending.popleft()
            if not self.reading and len(self.pending) < MAX_PIPELINED // 2:
                self.reading = True
                self.transport.resume_reading()
            if isinstance(item, Response):  # a parse error: answer and close
                self._write(item, close=True)
                return
            close = item.headers.get("connection") == "close"
            try:
                response = await handler(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler bug must not stop the server
                print(
                    f"edgeload sim: error handling {item.method} {item.path}: {exc!r}",
                    file=sys.stderr,
                )
                response = text_response("Internal Server Error", 500)
            if self.closed:
                return
            if response is DROP:
                self.transport.abort()
                return
            if isinstance(response, StreamResponse):
                await self._stream(response)
                return
            self._write(response, close)
            if close:
                return
            if not self.write_ok.is_set():
                await self.write_ok.wait()

    def _write(self, response: Response, close: bool) -> None:
        if self.closed:
            return
        body = response.body
        head = _head(response.status, response.content_type, response.headers, close)
        head += b"content-length: %d\r\n\r\n" % len(body)
        if len(body) > 4096:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head + body)
        if close:
            self.closed = True
            self.transport.close()

    async def _stream(self, response: StreamResponse) -> None:
        """Write a chunked response, then close the connection (watch streams end that way)."""
        head = _head(response.status, response.content_type, None, True)
        self.transport.write(head + b"transfer-encoding: chunked\r\n\r\n")
        chunks = response.chunks
        try:
            async for chunk in chunks:
                if self.closed:
                    break
                if chunk:
                    self.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    if not self.write_ok.is_set():
                        await self.write_ok.wait()
            if not self.closed:
                self.transport.write(b"0\r\n\r\n")
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            if not self.closed:
                self.closed = True
                self.transport.close()


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class HttpServer:
    """Serves `handler(request)` on host:port. `start()` returns the bound port."""

    def __init__(self, handler: Handler, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.handler = handler
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._accepted = 0

    def next_connection_index(self) -> int:
        self._accepted += 1
        return self._accepted

    async def start(self, host: str, port: int, ssl: object | None = None) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024, ssl=ssl
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()
            self._server = None
