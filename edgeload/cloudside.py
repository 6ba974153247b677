"""The cloud a command talks to directly, beside the edge (`--cloud-endpoint URL`, or
GROUNDLIGHT_CLOUD_ENDPOINT): where edge-vs-cloud gets its cloud answers and where
rollouts-under-load sends its labels when the edge would refuse them (an edge-only config
refuses async queries). Same token as the edge; TLS verified with the system's CAs
(`--ca-bundle` is the edge's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgeload.errors import UsageError
from edgeload.options import TEXT, Option

CLOUD_ENDPOINT_VARIABLE = "GROUNDLIGHT_CLOUD_ENDPOINT"

CLOUD_ENDPOINT = Option(
    "--cloud-endpoint",
    TEXT,
    None,
    "the cloud to call directly, e.g. https://api.groundlight.ai (also "
    f"{CLOUD_ENDPOINT_VARIABLE}); default: the cloud behind the edge (the edge forwards async "
    "queries and nginx sends other calls to its cloud)",
    metavar="URL",
)


def given_cloud_endpoint(value: str | None, environ: Mapping[str, str]) -> str | None:
    """--cloud-endpoint, else GROUNDLIGHT_CLOUD_ENDPOINT, checked; None when neither is set."""
    raw = value or environ.get(CLOUD_ENDPOINT_VARIABLE) or None
    return cloud_endpoint_url(raw) if raw else None


def cloud_endpoint_url(raw: str) -> str:
    """The cloud endpoint without credentials, query or trailing slash; UsageError if unusable."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            f"{CLOUD_ENDPOINT.flag} must be http(s)://HOST[:PORT][/PATH], e.g. "
            "https://api.groundlight.ai"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(f"{CLOUD_ENDPOINT.flag} must not hold credentials, a query or a fragment")
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port is not None else ""
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def cloud_sdk(edge_target: Any, url: str) -> Any:
    """An SDK client of the cloud at `url`, with the edge target's token (no hidden retries)."""
    from edgeload.target import KIND_REAL, Target, make_sdk

    cloud = Target(
        kind=KIND_REAL, url=url, token=edge_target.token, verify_tls=edge_target.verify_tls
    )
    return make_sdk(cloud, retries=False)
