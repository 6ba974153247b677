"""Pod memory from the Kubernetes metrics API (metrics.k8s.io, k3s's bundled metrics-server).

`PodMetrics.connect(option, target)` for `--k8s auto|off|URL` (which API: `edgeload.kube`,
as for the pod scenarios' pod watch). It never raises for
missing access: `read()` then returns None and `note` says why, and the figures are recorded as
not available.
"""

from __future__ import annotations

from typing import Any

from edgeload.kube import NAMESPACE, kube_api_client
from edgeload.target import one_line

GROUP, VERSION = "metrics.k8s.io", "v1beta1"


class PodMetrics:
    """Reads the PodMetricsList of namespace `edge`, or says why it cannot."""

    def __init__(self, api: Any | None, source: str, note: str | None = None) -> None:
        self.api = api  # a kubernetes CustomObjectsApi, or None
        self.source = source
        self.note = note

    @classmethod
    def connect(cls, option: str, target: Any) -> PodMetrics:
        from kubernetes import client

        sim = getattr(target, "sim", None)
        conn = kube_api_client(
            option,
            simulator_url=getattr(sim, "k8s_url", None) or None,
            simulated=sim is not None,
            verify_tls=target.verify_tls,
            ca_bundle=target.ca_bundle,
        )
        if conn.api_client is None:
            why = f" ({conn.problem})" if conn.source == "off" else f": {conn.problem}"
            return cls(None, conn.source, f"pod memory was not read{why}")
        return cls(client.CustomObjectsApi(conn.api_client), conn.source)

    def read(self) -> dict | None:
        """The PodMetricsList, or None (and `note` set) when the API does not answer."""
        if self.api is None:
            return None
        try:
            body = self.api.list_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, "pods", _request_timeout=10
            )
        except Exception as exc:  # noqa: BLE001 - no metrics-server, no access: not measured
            status = getattr(exc, "status", None)
            why = f"HTTP {status}" if status else one_line(type(exc).__name__, 60)
            self.note = f"the Kubernetes metrics API at {self.source} failed ({why})"
            return None
        return body if isinstance(body, dict) else None

    def close(self) -> None:
        api_client = getattr(self.api, "api_client", None)
        if api_client is not None:
            try:
                api_client.close()
            except Exception:  # noqa: BLE001
                pass
