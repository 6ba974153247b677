"""Which Kubernetes API a run reads (`--k8s auto|off|URL`), for every scenario that looks at
the edge's pods: the pod watch of the pod scenarios, the pod metrics of `resources`.

auto: the embedded simulator's own API when the target is our simulator (never the kubeconfig
of the machine running us), otherwise kubeconfig, then in-cluster config. URL: that base URL
without credentials (`kubectl proxy`, the simulator), with the endpoint's TLS settings. Missing
access never raises: the connection says why there is none, and the caller records the
figures it would have read as not observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAMESPACE = "edge"  # where a real box runs its inference pods

NO_CLUSTER = (
    "no kubeconfig and not in a cluster (give --k8s URL, e.g. the address of `kubectl proxy`)"
)


@dataclass(frozen=True)
class KubeConnection:
    """A kubernetes `ApiClient` and where it points, or why there is none."""

    api_client: Any | None
    source: str  # "kubeconfig" | "in-cluster" | URL | "off" | "none"
    problem: str | None = None  # why there is no client: "--k8s off", "no kubeconfig ..."


def kube_api_client(
    option: str,
    *,
    simulator_url: str | None = None,
    simulated: bool = False,
    verify_tls: bool = True,
    ca_bundle: str | None = None,
) -> KubeConnection:
    """The API client for `--k8s option`; `simulator_url` is our simulator's own API."""
    if option == "off":
        return KubeConnection(None, "off", "--k8s off")
    try:
        from kubernetes import client, config
    except ImportError:
        return KubeConnection(None, "none", "the kubernetes client is not installed")
    url = option if option != "auto" else (simulator_url or "")
    if option == "auto" and simulated and not url:
        return KubeConnection(None, "none", "the simulated endpoint serves no Kubernetes API")
    if url:
        cfg = client.Configuration()
        cfg.host = url.rstrip("/")
        if url.startswith("https"):  # the endpoint's TLS settings (simulator, kubectl proxy)
            cfg.verify_ssl = verify_tls
            cfg.ssl_ca_cert = ca_bundle if verify_tls else None
        return KubeConnection(client.ApiClient(cfg), url)
    for source, loader in (
        ("kubeconfig", config.load_kube_config),
        ("in-cluster", config.load_incluster_config),
    ):
        try:
            loader()
        except Exception:  # noqa: BLE001 - try the next source
            continue
        return KubeConnection(client.ApiClient(), source)
    return KubeConnection(None, "none", NO_CLUSTER)
