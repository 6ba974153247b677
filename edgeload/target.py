"""Which endpoint a run measures: a real edge endpoint (GROUNDLIGHT_ENDPOINT) or an embedded
simulated one, and how to build an SDK client for it that hides nothing.

`resolve_target()` validates everything about a real endpoint before any load starts (URL shape,
never the Groundlight cloud, a well-formed token, TLS settings, reachability) and raises
`UsageError` with one line that says what to fix. Without GROUNDLIGHT_ENDPOINT it starts an
embedded `edgeload.sim.SimulatedEndpoint` in its own process.

The API token is a secret: `Target` never shows it (repr, str, describe) and every message built
here goes through `redact()`.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgeload.errors import RunError, UsageError
from edgeload.http import HttpClient, HttpStatusError, TransportError

ENDPOINT_VARIABLE = "GROUNDLIGHT_ENDPOINT"
TOKEN_VARIABLE = "GROUNDLIGHT_API_TOKEN"
DISABLE_TLS_VARIABLE = "DISABLE_TLS_VERIFY"  # the SDK's own variable: "1" or "0"
CA_BUNDLE_VARIABLE = "EDGELOAD_CA_BUNDLE"

KIND_REAL = "real"
KIND_SIMULATED = "simulated"

# The SDK needs 20 leading [A-Za-z0-9_] characters (it keys token rotation on them); the rest must
# be printable without spaces, since the token travels in an HTTP header.
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_]{20}[\x21-\x7e]*")
# The SDK puts this many leading characters of the token into its own error messages.
_SDK_TOKEN_PREFIX_CHARS = 12
_CLOUD_DOMAIN = "groundlight.ai"
_HEALTH_PATHS = ("/health/live", "/ping")
_MESSAGE_MAX_CHARS = 300


def redact(text: str, token: str | None) -> str:
    """`text` with the token (and the prefix of it the SDK quotes) replaced, on one line."""
    text = str(text)
    if token:
        text = text.replace(token, "<token>")
        prefix = token[:_SDK_TOKEN_PREFIX_CHARS]
        if len(prefix) >= 8:
            text = text.replace(prefix, "<token>")
    return one_line(text)


def one_line(text: str, max_chars: int = _MESSAGE_MAX_CHARS) -> str:
    """Collapse whitespace so a message prints as a single line, and keep it short. Control
    characters (an endpoint's bytes quoted in an error) are dropped: they must not reach the
    terminal."""
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in str(text))
    text = " ".join(text.split())
    if len(text) > max_chars:
        text = text[: max_chars - 3] + "..."
    return text


@dataclass
class Target:
    """The endpoint a run measures. `url` never holds credentials; `token` is never shown."""

    kind: str  # "real" | "simulated"
    url: str  # what the SDK takes as GROUNDLIGHT_ENDPOINT, e.g. http://10.0.0.5:30101
    token: str = field(repr=False)
    sim: Any = field(default=None, repr=False)  # the embedded SimulatedEndpoint, or None
    profile: str | None = None  # simulator profile name (simulated only)
    time_scale: float = 1.0  # simulator time scale (simulated only)
    verify_tls: bool = True  # False with DISABLE_TLS_VERIFY=1
    ca_bundle: str | None = None  # CA file to verify an https endpoint's certificate
    _http: HttpClient | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def edge_readiness_cache_s(self) -> float:
        """Wall seconds an edge-app worker may keep a stale "pod not ready" (see provisioning):
        the real edge app's cache, or the embedded simulator's profile value at its time scale."""
        from edgeload.provisioning import EDGE_READINESS_CACHE_S

        if self.kind != KIND_SIMULATED or self.profile is None:
            return EDGE_READINESS_CACHE_S
        from edgeload.sim.profile import load_profile

        cache_s = load_profile(self.profile).service.readiness_cache_s
        return float(cache_s) / self.time_scale

    @property
    def root_url(self) -> str:
        """scheme://host:port of the box: where /status/*, /health/* and /edge-config live."""
        url = self.url.rstrip("/")
        if url.endswith("/device-api"):
            url = url[: -len("/device-api")]
        return url

    def describe(self) -> str:
        """The first line of a run: what it measures."""
        if self.kind == KIND_SIMULATED:
            scale = "" if self.time_scale == 1 else f", time x{self.time_scale:g}"
            return f"target: simulated edge endpoint (profile {self.profile}{scale}) at {self.url}"
        tls = "" if self.verify_tls or not self.url.startswith("https") else " (TLS unverified)"
        return f"target: real edge endpoint at {self.url}{tls}"

    def as_record(self) -> dict:
        """The `target` entry of a log header or result file (no secrets)."""
        record: dict[str, Any] = {
            "kind": self.kind,
            "url": self.url,
            # only an endpoint edgeload started itself is taken for its simulator
            "started_by_edgeload": self.kind == KIND_SIMULATED,
        }
        if self.kind == KIND_SIMULATED:
            record["profile"] = self.profile
            record["time_scale"] = self.time_scale
        return record

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for our own HTTP calls to an https endpoint (None for http)."""
        if not self.url.startswith("https"):
            return None
        if not self.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.ca_bundle)

    @property
    def http(self) -> HttpClient:
        """The one HTTP client for this box's own pages (status, health), made on first use.
        The status pages need no token, so it is not sent: fewer places it travels."""
        if self._http is None:
            self._http = HttpClient.for_target(self, timeout_s=5.0)
        return self._http

    def get_json(self, path: str, *, timeout_s: float = 5.0) -> Any:
        """GET root_url + path and parse JSON. Raises HttpError/ValueError (callers decide)."""
        return self.http.get_json(path, timeout_s=timeout_s)

    def close(self) -> None:
        """Stop the embedded simulator, if any, and close connections (idempotent)."""
        sim, self.sim = self.sim, None
        if sim is not None:
            sim.stop()
        client, self._http = self._http, None
        if client is not None:
            client.close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def error_line(exc: BaseException, token: str | None, max_chars: int = 160) -> str:
    """An unexpected exception as one short line (`HTTP 503: ...`, `ValueError: ...`), never
    quoting the token."""
    status = getattr(exc, "status", None)
    head = f"HTTP {status}" if status else type(exc).__name__
    return redact(one_line(f"{head}: {exc}", max_chars), token)


def resolve_target(
    *,
    profile: str = "gpu-1x",
    time_scale: float = 1.0,
    require_real: bool = False,
    ca_bundle: str | None = None,
    check_reachable: bool = True,
    reach_timeout_s: float = 5.0,
    environ: Mapping[str, str] | None = None,
    sim_tls: bool = False,
) -> Target:
    """The endpoint to measure: GROUNDLIGHT_ENDPOINT if set (validated), else an embedded
    simulator started now. `check_reachable=False` skips the reachability probe (for scenarios
    that wait for an endpoint to come up), except that a certificate
    that cannot be verified is refused at once. `sim_tls`: the embedded simulator serves HTTPS
    with a self-signed certificate, which the target verifies (DISABLE_TLS_VERIFY=1 applies)."""
    env = os.environ if environ is None else environ
    raw_url = env.get(ENDPOINT_VARIABLE)
    if raw_url is None:
        if require_real:
            raise UsageError(
                f"this scenario needs a real edge endpoint: set {ENDPOINT_VARIABLE} "
                "(e.g. http://EDGE-HOST:30101) and GROUNDLIGHT_API_TOKEN"
            )
        target = start_simulated_target(profile=profile, time_scale=time_scale, tls=sim_tls)
        if sim_tls:
            try:
                target.verify_tls = not _read_disable_tls(env)
            except UsageError:
                target.close()
                raise
        return target

    url = validate_endpoint_url(raw_url)
    token = validate_token(env.get(TOKEN_VARIABLE))
    verify_tls = not _read_disable_tls(env)
    ca_bundle = ca_bundle or env.get(CA_BUNDLE_VARIABLE) or None
    if ca_bundle is not None:
        if not os.path.isfile(ca_bundle):
            raise UsageError(f"CA bundle {ca_bundle!r} is not a file: give a PEM file of CAs")
        try:
            ssl.create_default_context(cafile=ca_bundle)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise UsageError(
                f"CA bundle {ca_bundle!r} cannot be loaded ({one_line(exc)}): give a PEM file"
            ) from None
    target = Target(
        kind=KIND_REAL, url=url, token=token, verify_tls=verify_tls, ca_bundle=ca_bundle
    )
    if check_reachable:
        problem = probe(target, timeout_s=reach_timeout_s, tls_fatal=True)
        if problem is not None:
            raise UsageError(problem)
    elif target.url.startswith("https"):
        # an endpoint may come up later, but a certificate we cannot verify will not go away
        probe(target, timeout_s=min(reach_timeout_s, 2.0), tls_fatal=True)
    return target


def validate_target_environment(environ: Mapping[str, str] | None = None) -> None:
    """GROUNDLIGHT_ENDPOINT and its token, if set, checked without a request (UsageError):
    what a command checks before it writes or starts anything."""
    env = os.environ if environ is None else environ
    raw_url = env.get(ENDPOINT_VARIABLE)
    if raw_url is not None:
        validate_endpoint_url(raw_url)
        validate_token(env.get(TOKEN_VARIABLE))


def check_target(*, sim_profile: str, ca_bundle: str | None = None) -> None:
    """What a run will measure, checked before it starts (UsageError, one line): a real
    endpoint's problems (URL, cloud, token, TLS, reachability), or an unusable simulator
    profile when the embedded simulator will be started."""
    if os.environ.get(ENDPOINT_VARIABLE) is not None:
        resolve_target(ca_bundle=ca_bundle).close()
    else:
        from edgeload.sim.profile import load_profile

        load_profile(sim_profile)


def start_simulated_target(
    *, profile: str = "gpu-1x", time_scale: float = 1.0, tls: bool = False
) -> Target:
    """Start an embedded simulated endpoint on 127.0.0.1 (HTTPS with `tls`, verified against
    its own certificate) and wrap it as a Target."""
    if not time_scale > 0:
        raise UsageError(f"time scale must be positive, got {time_scale!r}")
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    sim = SimulatedEndpoint(profile, time_scale=time_scale, tls=tls)
    try:
        sim.start()
    except (UsageError, RunError):
        sim.stop()
        raise
    except Exception as exc:
        sim.stop()
        raise RunError(f"could not start the simulated edge endpoint: {one_line(exc)}") from exc
    return Target(
        kind=KIND_SIMULATED,
        url=sim.url,
        token=DEMO_TOKEN,
        sim=sim,
        profile=str(profile),
        time_scale=float(time_scale),
        ca_bundle=sim.ca_bundle,
    )


def validate_endpoint_url(raw_url: str) -> str:
    """The endpoint URL without credentials, query or trailing slash; UsageError if unusable."""
    text = raw_url.strip()
    if not text:
        raise UsageError(
            f"{ENDPOINT_VARIABLE} is set but empty: set it to your edge endpoint "
            "(e.g. http://EDGE-HOST:30101), or unset it to use the embedded simulator"
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise UsageError(
            f"{ENDPOINT_VARIABLE} is not a valid URL: give http(s)://HOST[:PORT]"
        ) from None
    # Rebuild the network location without any user:password@ part, so it can be shown.
    shown_host = f"[{host}]" if host and ":" in host else (host or "")
    netloc = f"{shown_host}:{port}" if port is not None else (shown_host or "")
    safe = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if parts.scheme not in ("http", "https"):
        raise UsageError(
            f"{ENDPOINT_VARIABLE}={safe!r} must start with http:// or https:// "
            "(e.g. http://EDGE-HOST:30101)"
        )
    if not host:
        raise UsageError(f"{ENDPOINT_VARIABLE}={safe!r} has no host: give http(s)://HOST[:PORT]")
    if parts.query or parts.fragment:
        raise UsageError(f"{ENDPOINT_VARIABLE} must not have a query or fragment: use {safe}")
    lowered = host.lower().rstrip(".")
    if lowered == _CLOUD_DOMAIN or lowered.endswith("." + _CLOUD_DOMAIN):
        raise UsageError(
            f"{ENDPOINT_VARIABLE}={safe} is the Groundlight cloud: edgeload only load-tests edge "
            "endpoints, never the cloud; point it at your edge endpoint (e.g. http://EDGE-HOST:30101)"
        )
    return safe


def validate_token(token: str | None) -> str:
    """The API token for a real endpoint; UsageError (never quoting it) if missing or malformed."""
    if token is None or not token.strip():
        raise UsageError(
            f"{TOKEN_VARIABLE} is not set: a real edge endpoint needs your Groundlight API token"
        )
    token = token.strip()
    if not _TOKEN_PATTERN.fullmatch(token):
        raise UsageError(
            f"{TOKEN_VARIABLE} is malformed ({len(token)} characters): a Groundlight API token "
            "starts with 20 letters, digits or underscores and has no spaces"
        )
    return token


def _read_disable_tls(env: Mapping[str, str]) -> bool:
    raw = env.get(DISABLE_TLS_VARIABLE)
    if raw is None:
        return False
    value = raw.strip()
    if value not in ("0", "1"):
        raise UsageError(f"{DISABLE_TLS_VARIABLE} must be 1 or 0, got {value!r}")
    return value == "1"


def probe(target: Target, *, timeout_s: float = 5.0, tls_fatal: bool = False) -> str | None:
    """None if the endpoint answers its health route, else a one-line reason with advice.
    With `tls_fatal`, a certificate that cannot be verified raises UsageError instead (waiting
    does not fix it)."""
    last: str | None = None
    for path in _HEALTH_PATHS:
        try:
            target.http.request("GET", path, timeout_s=timeout_s)
            return None
        except HttpStatusError as exc:
            last = f"the edge endpoint at {target.url} answered {exc.status} to GET {path}"
            if exc.status == 404:
                continue  # older endpoints: try the next route
            break
        except TransportError as exc:
            problem = redact(_network_problem(target, exc), target.token)
            if tls_fatal and exc.category == "tls" and "certificate" in str(exc).lower():
                raise UsageError(problem) from None
            return problem
    return redact(f"{last}: is {ENDPOINT_VARIABLE} an edge endpoint?", target.token)


def _network_problem(target: Target, exc: TransportError) -> str:
    reason = str(exc).split(": ", 1)[-1]
    if exc.category == "tls" and "certificate" in reason.lower():
        return (
            f"cannot verify the TLS certificate of {target.url} ({reason}): "
            f"pass --ca-bundle PATH with its CA, or set {DISABLE_TLS_VARIABLE}=1 for a "
            "self-signed certificate"
        )
    if exc.category == "tls":
        return f"TLS failed with {target.url} ({reason}): check http:// vs https:// and the port"
    if exc.category == "timeout":
        return f"the edge endpoint at {target.url} did not answer in time: is it up and reachable?"
    return (
        f"cannot reach the edge endpoint at {target.url} ({reason}): check "
        f"{ENDPOINT_VARIABLE} and that the endpoint is running"
    )


# --------------------------------------------------------------------------------------------
# SDK client


def make_sdk(
    target: Target,
    *,
    pool_size: int | None = None,
    retries: bool = False,
) -> Any:
    """A `groundlight.ExperimentalApi` (a `Groundlight` with the edge-config and evaluation
    calls) for `target`.

    With `retries=False` nothing is retried behind our back, so every attempt is counted:
    urllib3 transport retries are off and the SDK's 5xx retry decorator is bypassed on this
    client only (other clients in the process keep it). `pool_size` sizes the connection pool
    for that many concurrent users (the SDK keeps 5 x cpu_count and opens throw-away
    connections beyond that). Token rotation is off: a load test must not write token files or
    run a background refresh thread.
    """
    from groundlight import ExperimentalApi

    # The SDK parses MULTI_CLASS and BOUNDING_BOX results as binary ones and warns about their
    # labels ("Unrecognized internal label") on every answer: expected, so kept quiet.
    logging.getLogger("groundlight.binary_labels").setLevel(logging.ERROR)
    client = ExperimentalApi.__new__(ExperimentalApi)
    sdk_verify = client._verify_connectivity  # bound to the class's method

    def configure_then_verify() -> None:
        # Runs inside __init__, after the HTTP client exists and before the first request, so
        # that the CA bundle and pool size already apply to the SDK's own connectivity check.
        _configure_client(client, target, pool_size=pool_size, retries=retries)
        sdk_verify()

    # An instance attribute shadows the method for this one construction only.
    client._verify_connectivity = configure_then_verify
    try:
        client.__init__(
            endpoint=target.url,
            api_token=target.token,
            disable_tls_verification=not target.verify_tls,
            http_transport_retries=None if retries else 0,
            enable_token_rotation=False,
        )
    except Exception as exc:
        raise UsageError(
            redact(f"the groundlight SDK cannot use {target.url}: {exc}", target.token)
        ) from None
    finally:
        del client._verify_connectivity
    return client


def _configure_client(client: Any, target: Target, *, pool_size: int | None, retries: bool):
    api_client = client.api_client
    if not retries:
        _bypass_retry_decorators(api_client)
    pool_manager = api_client.rest_client.pool_manager
    changed = False
    if pool_size is not None:
        wanted = max(int(pool_size), 1)
        if wanted > pool_manager.connection_pool_kw.get("maxsize", 1):
            pool_manager.connection_pool_kw["maxsize"] = wanted
            changed = True
    if target.ca_bundle and target.verify_tls:
        pool_manager.connection_pool_kw["ca_certs"] = target.ca_bundle
        pool_manager.connection_pool_kw["cert_reqs"] = ssl.CERT_REQUIRED
        # Later clients built from this configuration, and the SDK calls that use `requests`
        # (verify= accepts a CA file path), verify against the bundle too.
        client.configuration.ssl_ca_cert = target.ca_bundle
        client.configuration.verify_ssl = target.ca_bundle
        changed = True
    if changed:
        pool_manager.clear()  # pools are created lazily with connection_pool_kw


def _bypass_retry_decorators(api_client: Any) -> None:
    """Bind the undecorated versions of the SDK's retrying methods to this instance.

    `GroundlightApiClient.call_api` (every generated API call) and a few hand-written calls are
    wrapped by `RequestsRetryDecorator` (functools.wraps, so `__wrapped__` is the original).
    """
    from groundlight.internalapi import GroundlightApiClient

    found = False
    for name, attribute in vars(GroundlightApiClient).items():
        original = getattr(attribute, "__wrapped__", None)
        if callable(attribute) and original is not None:
            setattr(api_client, name, types.MethodType(original, api_client))
            found = found or name == "call_api"
    if not found:
        raise RunError(
            "this groundlight SDK version has no retry decorator on call_api to switch off; "
            "edgeload expects groundlight==1.3.1"
        )
