"""Pod memory from the Kubernetes metrics API (metrics.k8s.io, k3s's bundled metrics-server).

`PodMetrics.connect(option, target)` for `--k8s auto|off|URL`: auto is the embedded simulator's
own API on a simulated target, else kubeconfig, then in-cluster config. It never raises for
missing access: `read()` then returns None and `note` says why, and the figures are recorded as
not available.
"""

from __future__ import annotations

from typing import Any

from edgeload.target import one_line

NAMESPACE = "edge"
GROUP, VERSION = "metrics.k8s.io", "v1beta1"


class PodMetrics:
    """Reads the PodMetricsList of namespace `edge`, or says why it cannot."""

    def __init__(self, api: Any | None, source: str, note: str | None = None) -> None:
        self.api = api  # a kubernetes CustomObjectsApi, or None
        self.source = source
        self.note = note

    @classmethod
    def connect(cls, option: str, target: Any) -> PodMetrics:
        if option == "off":
            return cls(None, "off", "pod memory was not read (--k8s off)")
        try:
            from kubernetes import client, config
        except ImportError:
            return cls(None, "none", "pod memory was not read: no kubernetes client")
        url = option if option != "auto" else ""
        if option == "auto" and getattr(target, "sim", None) is not None:
            # our own simulator: its API, never the kubeconfig of the machine running us
            url = getattr(target.sim, "k8s_url", "") or ""
            if not url:
                return cls(None, "none", "pod memory was not read: no simulated Kubernetes API")
        if url:
            cfg = client.Configuration()
            cfg.host = url.rstrip("/")
            if url.startswith("https"):  # the endpoint's TLS settings (simulator, proxy)
                cfg.verify_ssl = target.verify_tls
                cfg.ssl_ca_cert = target.ca_bundle if target.verify_tls else None
            return cls(client.CustomObjectsApi(client.ApiClient(cfg)), url)
        for source, loader in (
            ("kubeconfig", config.load_kube_config),
            ("in-cluster", config.load_incluster_config),
        ):
            try:
                loader()
            except Exception:  # noqa: BLE001 - try the next source
                continue
            return cls(client.CustomObjectsApi(), source)
        return cls(
            None,
            "none",
            "pod memory was not read: no kubeconfig and not in a cluster (give --k8s URL)",
        )

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
