"""The one HTTP client for edgeload's own calls (everything that is not the SDK or Locust).

Status pages, health probes, the simulator's admin API and raw image-query POSTs outside
Locust all go through `HttpClient`: urllib3 underneath (the SDK's own transport), TLS settings
from the target, no hidden retries (a failed attempt is counted, not repeated), and every
failure is one short line naming the method, the route and what happened, never a traceback:

    TransportError   no HTTP answer: refused, reset, timed out, TLS failure, not HTTP at all;
                     `category` is "connection", "timeout" or "tls" (edgeload.runlog's
                     error categories)
    HttpStatusError  an HTTP answer outside 2xx (`status`, `reason`)

Both subclass `HttpError`. Nothing here prints a token: headers are never part of a message.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError as Urllib3Error,
)
from urllib3.exceptions import (
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)

DEFAULT_TIMEOUT_S = 10.0
_MESSAGE_MAX_CHARS = 200


class HttpError(Exception):
    """A call that did not get a 2xx answer; the message is one short line."""


class TransportError(HttpError):
    """No HTTP answer at all."""

    def __init__(self, message: str, category: str) -> None:
        super().__init__(message)
        self.category = category


class HttpStatusError(HttpError):
    """An HTTP answer outside 2xx."""

    def __init__(self, message: str, status: int, reason: str, body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes
    headers: Mapping[str, str]
    elapsed_ms: float

    def json(self) -> Any:
        """The body as JSON; ValueError for anything else."""
        return json.loads(self.body)


class HttpClient:
    """Calls to one base URL (scheme://host:port), with one connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        pool_size: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = dict(headers or {})
        kwargs: dict[str, Any] = {"maxsize": pool_size, "retries": False}
        if urlsplit(self.base_url).scheme == "https":
            if verify_tls:
                kwargs["cert_reqs"] = ssl.CERT_REQUIRED
                if ca_bundle:
                    kwargs["ca_certs"] = ca_bundle
            else:  # DISABLE_TLS_VERIFY=1: asked for, so not warned about on every call
                kwargs["cert_reqs"] = ssl.CERT_NONE
                kwargs["assert_hostname"] = False
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._pool = urllib3.PoolManager(**kwargs)
        self._path = urlsplit(self.base_url).path  # the base URL's own path, before each route
        self._origin: urllib3.HTTPConnectionPool | None = None  # the base URL's connections
        self._timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)

    @classmethod
    def for_target(cls, target: Any, **kwargs: Any) -> HttpClient:
        """A client for an `edgeload.target.Target`'s box root (its TLS settings)."""
        return cls(
            target.root_url, verify_tls=target.verify_tls, ca_bundle=target.ca_bundle, **kwargs
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        ok_statuses: range | tuple[int, ...] = range(200, 300),
    ) -> Response:
        """One request; TransportError (no answer) or HttpStatusError (status not in
        `ok_statuses`)."""
        url = self._path + path + (f"?{urlencode(params)}" if params else "")
        if timeout_s is None:
            timeout = self._timeout
        else:
            timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        start = time.perf_counter()
        try:
            raw = self._connections().urlopen(
                method,
                url,
                body=body,
                headers={**self._headers, **(headers or {})},
                timeout=timeout,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except Urllib3Error as exc:
            raise TransportError(
                f"{method} {path}: {_transport_reason(exc)}", _category(exc)
            ) from None
        except (OSError, ValueError) as exc:  # anything the socket layer raises unwrapped
            raise TransportError(f"{method} {path}: {_short(exc)}", "connection") from None
        elapsed_ms = (time.perf_counter() - start) * 1000
        response = Response(raw.status, raw.reason or "", raw.data, dict(raw.headers), elapsed_ms)
        if raw.status not in ok_statuses:
            raise HttpStatusError(
                f"{method} {path} answered {raw.status} {raw.reason or ''}".rstrip(),
                raw.status,
                raw.reason or "",
                raw.data,
            )
        return response

    def get_json(self, path: str, *, timeout_s: float | None = None) -> Any:
        """GET and parse JSON; HttpError, or ValueError (one line) for a non-JSON answer."""
        response = self.request(
            "GET", path, headers={"Accept": "application/json"}, timeout_s=timeout_s
        )
        try:
            return response.json()
        except ValueError:
            raise ValueError(f"GET {path} did not answer JSON") from None

    def _connections(self) -> urllib3.HTTPConnectionPool:
        """The base URL's connection pool, looked up once (a PoolManager would parse the URL
        and look it up again on every call: a tenth of a millisecond a request)."""
        pool = self._origin
        if pool is None:
            pool = self._origin = self._pool.connection_from_url(self.base_url)
        return pool

    def close(self) -> None:
        self._origin = None
        self._pool.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _category(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, SSLError) or isinstance(reason, ssl.SSLError):
        return "tls"
    # urllib3 derives NewConnectionError from its connect-timeout error: refused is not slow
    if isinstance(exc, NewConnectionError) or isinstance(reason, NewConnectionError):
        return "connection"
    if isinstance(exc, ReadTimeoutError | Urllib3Timeout):
        return "timeout"
    if isinstance(reason, Urllib3Timeout | TimeoutError):
        return "timeout"
    return "connection"


def _transport_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else _short(reason)
    if isinstance(exc, ProtocolError):
        return f"the connection broke ({_short(exc.args[-1] if exc.args else exc)})"
    if _category(exc) == "timeout":
        return "no answer in time"
    if _category(exc) == "tls":
        return f"TLS failed ({_short(reason)})"
    return _short(reason)


def _short(exc: object) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MESSAGE_MAX_CHARS else text[: _MESSAGE_MAX_CHARS - 3] + "..."
