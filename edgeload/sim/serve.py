"""Run the simulated endpoint in this process: wire profile, clock, cloud, runtime and server.

Used by `python -m edgeload.sim` (the subprocess that `SimulatedEndpoint` starts) and by the
`edgeload sim` command. Blocks until SIGINT/SIGTERM (or, with `exit_on_stdin_eof`, until the
parent process goes away and closes our stdin).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeload.errors import UsageError
from edgeload.sim.app import EdgeApp
from edgeload.sim.clock import SimClock
from edgeload.sim.cloud import Cloud
from edgeload.sim.faults import Faults
from edgeload.sim.http import HttpServer
from edgeload.sim.profile import Profile, load_profile


def build_profile(profile: str | Path, overrides: dict | None) -> Profile:
    return load_profile(profile, overrides)


async def serve(
    profile: Profile,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    time_scale: float | None = None,
    on_ready: Callable[[str, EdgeApp], None] | None = None,
    exit_on_stdin_eof: bool = False,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
) -> None:
    """Serve until told to stop (HTTPS with `tls_cert` and `tls_key`). Raises UsageError when
    the address cannot be bound or the certificate cannot be loaded."""
    from edgeload.sim.runtime import EdgeRuntime

    scale = float(time_scale if time_scale is not None else profile.time_scale)
    if not scale > 0:
        raise UsageError(f"time scale must be > 0, got {scale}")
    clock = SimClock(scale)
    cloud = Cloud(clock, profile.cloud)
    faults = Faults.from_profile(profile.faults, profile.endpoint.up_after_s)
    runtime = EdgeRuntime(profile, clock, cloud.latest_model)
    app = EdgeApp(profile, clock, runtime, cloud, faults)
    server = HttpServer(app.handle)
    context = None
    if tls_cert is not None or tls_key is not None:
        from edgeload.sim.tls import server_context

        if tls_cert is None or tls_key is None:
            raise UsageError("HTTPS needs both a certificate and its key")
        context = server_context(tls_cert, tls_key)
    try:
        bound = await server.start(host, port, ssl=context)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"cannot listen on {host}:{port}: {reason} (choose another --port)"
        ) from None
    display_host = f"[{host}]" if ":" in host else host
    scheme = "https" if context is not None else "http"
    app.url = f"{scheme}://{display_host}:{bound}"
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
            on_ready(app.url, app)
        await stop.wait()
    finally:
        await server.close()
        await runtime.stop()


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
