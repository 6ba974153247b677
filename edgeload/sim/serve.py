"""Run the simulated endpoint in this process: wire profile, clock, cloud, box and servers.

Three listeners, as on a real box and its cloud: the edge port (nginx: edge app, status
monitor, fallback to the cloud, and the simulator's admin API), the Kubernetes API server's
port, and the simulated cloud's port.

Used by `python -m edgeload.sim` (the subprocess that `SimulatedEndpoint` starts) and by the
`edgeload sim` command. Blocks until SIGINT/SIGTERM (or, with `exit_on_stdin_eof`, until the
parent process goes away and closes our stdin).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeload.errors import UsageError
from edgeload.sim.activity import Activity
from edgeload.sim.admin import Admin
from edgeload.sim.clock import SimClock
from edgeload.sim.cloud import Cloud
from edgeload.sim.cloud_api import CloudApi
from edgeload.sim.edge_app import EdgeApp
from edgeload.sim.faults import Faults
from edgeload.sim.front import Front
from edgeload.sim.http import HttpServer
from edgeload.sim.k8s_api import KubernetesApi
from edgeload.sim.profile import Profile, load_profile
from edgeload.sim.status_app import StatusApp

if TYPE_CHECKING:
    import ssl


def build_profile(profile: str | Path, overrides: dict | None) -> Profile:
    return load_profile(profile, overrides)


# nginx.conf's client_max_body_size: larger requests to the box get 413
NGINX_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Urls:
    """Where the simulator listens: the box's edge port (nginx), its Kubernetes API server,
    and the simulated cloud."""

    url: str
    k8s_url: str
    cloud_url: str


async def serve(
    profile: Profile,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    k8s_port: int = 0,
    cloud_port: int = 0,
    time_scale: float | None = None,
    on_ready: Callable[[Urls], None] | None = None,
    exit_on_stdin_eof: bool = False,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    admin_token: str | None = None,
) -> None:
    """Serve until told to stop (HTTPS on every port with `tls_cert` and `tls_key`). Raises
    UsageError when an address cannot be bound or the certificate cannot be loaded."""
    from edgeload.sim.runtime import EdgeRuntime

    scale = float(time_scale if time_scale is not None else profile.time_scale)
    if not scale > 0:
        raise UsageError(f"time scale must be > 0, got {scale}")
    clock = SimClock(scale)
    cloud = Cloud(clock, profile.cloud)
    cloud_api = CloudApi(clock, cloud)
    faults = Faults.from_profile(profile.faults, profile.endpoint.up_after_s)
    runtime = EdgeRuntime(profile, clock, cloud.latest_model, detector_size=cloud.detector_size)
    activity = Activity(clock)
    edge = EdgeApp(profile, clock, runtime, cloud, cloud_api, faults, activity)
    status = StatusApp(profile, clock, runtime, cloud, edge, activity)
    admin = Admin(profile, clock, runtime, cloud_api, faults, edge, token=admin_token)
    front = Front(clock, faults, edge, status, cloud_api, admin)
    context = _tls_context(tls_cert, tls_key)
    servers = [
        (HttpServer(front.handle, max_body=NGINX_MAX_BODY), port, "--port"),
        (HttpServer(KubernetesApi(runtime).handle), k8s_port, "--k8s-port"),
        (HttpServer(cloud_api.handle), cloud_port, "--cloud-port"),
    ]
    urls = await _start(servers, host, context)
    admin.urls.update(url=urls.url, k8s_url=urls.k8s_url, cloud_url=urls.cloud_url)
    status.cloud_url = urls.cloud_url
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    if exit_on_stdin_eof:
        _watch_stdin(loop, stop)
    await runtime.start()
    try:
        if on_ready is not None:
            on_ready(urls)
        await stop.wait()
    finally:
        for server, _, _ in servers:
            await server.close()
        await edge.stop()
        await runtime.stop()


def _tls_context(tls_cert: str | Path | None, tls_key: str | Path | None) -> ssl.SSLContext | None:
    """The servers' SSL context: None for plain HTTP; both files or neither."""
    if tls_cert is None and tls_key is None:
        return None
    from edgeload.sim.tls import server_context

    if tls_cert is None or tls_key is None:
        raise UsageError("HTTPS needs both a certificate and its key")
    return server_context(tls_cert, tls_key)


async def _start(
    servers: list[tuple[HttpServer, int, str]], host: str, context: ssl.SSLContext | None
) -> Urls:
    """Bind every server (edge, Kubernetes API, cloud, in that order) and say where they
    listen; on any failure none stays open. A port that cannot be bound is a UsageError
    naming the option that chose it."""
    display_host = f"[{host}]" if ":" in host else host
    scheme = "https" if context is not None else "http"
    bound_urls = []
    try:
        for server, wanted, option in servers:
            try:
                bound = await server.start(host, wanted, ssl=context)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise UsageError(
                    f"cannot listen on {host}:{wanted}: {reason} (choose another {option})"
                ) from None
            bound_urls.append(f"{scheme}://{display_host}:{bound}")
    except BaseException:
        for server, _, _ in servers:
            await server.close()
        raise
    return Urls(*bound_urls)


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop when stdin reaches EOF: the parent died or closed the pipe."""
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            import os

            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            stop.set()

    try:
        loop.add_reader(fd, readable)
    except (OSError, ValueError, NotImplementedError):  # pragma: no cover
        pass


def run(profile: Profile, **kwargs: Any) -> None:
    """Blocking wrapper around `serve` (Ctrl-C ends it quietly)."""
    try:
        asyncio.run(serve(profile, **kwargs))
    except KeyboardInterrupt:
        pass
